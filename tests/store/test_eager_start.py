"""Contract: eager start, a run inserted already claimed by its submitter's worker.

Method: ``create_and_claim`` (see :mod:`polos.store.eager`). A run taken
must look exactly as if it had been queued and then claimed: same lease,
same attempt (the fencing token), same history; every run that could break
a claim's rule (a limited or unknown queue, older queued runs of its
workflow, an idempotency key used before) is queued instead.
"""

from __future__ import annotations

import orjson

from polos.store import EagerClaim, Store
from polos.store.records import QueueRow

from .kit import T0, children, event, events_of, new_execution, step


def eager(*ids: str, worker: str = "w1", at: float = T0 + 1, **fields: object) -> EagerClaim:
    return EagerClaim(worker, at, 30.0, set(ids), **fields)  # type: ignore[arg-type]


async def test_a_run_taken_at_once_is_running_as_a_claim_would_leave_it(store: Store) -> None:
    await store.publish_events([event("earlier")], T0)
    new = new_execution("wf", T0, queue_name="wf", run_timeout_seconds=100.0)
    created = await store.create_and_claim([new], eager(new.id, deployment_id="v1"))
    assert created.ids == [new.id]
    [taken] = created.claimed
    row = taken.execution
    assert (row.id, row.status, row.owner, row.attempt) == (new.id, "running", "w1", 1)
    assert row.lease_expires_at == T0 + 31
    assert row.started_at == T0 + 1
    assert row.deadline_at == T0 + 101, "the run timeout counts from the start"
    assert row.deployment_id == "v1", "an unpinned run is stamped with the worker's deployment"
    assert taken.steps == []
    assert taken.event_cursor == await store.topic_position("earlier")
    assert row == await store.get_execution(new.id)
    history = await store.list_history(new.id)
    assert [(h.event, h.attempt) for h in history] == [("created", 0), ("claimed", 1)]
    assert orjson.loads(history[1].detail or "{}") == {"owner": "w1", "eager": True}
    assert await store.claim("w2", ["wf"], 10, T0 + 2, 30.0) == [], "nothing left to claim"


async def test_the_taken_run_is_fenced_by_its_attempt_like_any_claimed_run(store: Store) -> None:
    new = new_execution("wf", T0, queue_name="wf")
    [taken] = (await store.create_and_claim([new], eager(new.id))).claimed
    assert await store.heartbeat("w1", [(new.id, 1)], T0 + 5, 30.0) == set()
    assert await store.record_step(new.id, 1, step("a", 1))
    # Its worker stops heartbeating: the lease runs out and another worker takes over.
    assert await store.requeue_expired_leases(T0 + 40) == 1
    [again] = await store.claim("w2", ["wf"], 10, T0 + 41, 30.0)
    assert (again.execution.attempt, [s.step_key for s in again.steps]) == (2, ["a"])
    assert not await store.record_step(new.id, 1, step("b", 1)), "the old attempt is refused"
    assert not await store.complete_execution(new.id, 1, '"late"', T0 + 42)
    assert await store.complete_execution(new.id, 2, '"done"', T0 + 42)
    assert taken.execution.attempt == 1


async def test_a_cancelled_taken_run_refuses_its_workers_next_write(store: Store) -> None:
    new = new_execution("wf", T0, queue_name="wf")
    await store.create_and_claim([new], eager(new.id))
    cancelled = await store.cancel_execution(new.id, T0 + 2)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert not await store.record_step(new.id, 1, step("a", 1))
    assert await store.heartbeat("w1", [(new.id, 1)], T0 + 3, 30.0) == {new.id}


async def test_only_the_eligible_runs_are_taken_and_ids_keep_their_order(store: Store) -> None:
    first = new_execution("wf", T0, queue_name="wf")
    other = new_execution("other", T0, queue_name="other")
    last = new_execution("wf", T0, queue_name="wf")
    created = await store.create_and_claim([first, other, last], eager(first.id, last.id))
    assert created.ids == [first.id, other.id, last.id]
    assert [c.execution.id for c in created.claimed] == [first.id, last.id]
    row = await store.get_execution(other.id)
    assert row is not None and (row.status, row.attempt, row.owner) == ("queued", 0, None)
    assert await events_of(store, other.id) == ["created"]
    [claimed] = await store.claim("w2", ["other"], 10, T0 + 2, 30.0)
    assert claimed.execution.id == other.id


async def test_a_run_of_a_limited_queue_is_queued_for_admission(store: Store) -> None:
    await store.upsert_queue(QueueRow("capped", 1, None, None, T0))
    await store.upsert_queue(QueueRow("metered", None, 5, 60.0, T0))
    capped = new_execution("wf", T0, queue_name="capped", concurrency_key="k")
    metered = new_execution("wf", T0, queue_name="metered")
    created = await store.create_and_claim([capped, metered], eager(capped.id, metered.id))
    assert created.ids == [capped.id, metered.id]
    assert created.claimed == []
    for new in (capped, metered):
        row = await store.get_execution(new.id)
        assert row is not None and row.status == "queued"
    claimed = await store.claim("w2", ["wf"], 10, T0 + 2, 30.0)
    assert sorted(c.execution.id for c in claimed) == sorted([capped.id, metered.id])


async def test_a_run_with_no_queue_yet_is_queued(store: Store) -> None:
    new = new_execution("wf", T0)  # its submitter did not know the workflow's queue
    created = await store.create_and_claim([new], eager(new.id))
    assert created.claimed == []
    row = await store.get_execution(new.id)
    assert row is not None and row.status == "queued"


async def test_runs_of_a_workflow_already_queued_keep_their_turn(store: Store) -> None:
    older = new_execution("wf", T0, queue_name="wf")
    await store.create_execution(older)
    new = new_execution("wf", T0 + 1, queue_name="wf")
    created = await store.create_and_claim([new], eager(new.id, at=T0 + 1))
    assert created.claimed == []
    claimed = await store.claim("w2", ["wf"], 10, T0 + 2, 30.0)
    assert [c.execution.id for c in claimed] == [older.id, new.id]
    # Nothing queued any more: the next one starts at once.
    newest = new_execution("wf", T0 + 3, queue_name="wf")
    created = await store.create_and_claim([newest], eager(newest.id, at=T0 + 3))
    assert [c.execution.id for c in created.claimed] == [newest.id]


async def test_an_idempotency_key_used_before_returns_the_first_run_untouched(
    store: Store,
) -> None:
    first = new_execution("wf", T0, queue_name="wf", idempotency_key="order-1")
    await store.create_execution(first)
    again = new_execution("wf", T0 + 1, queue_name="wf", idempotency_key="order-1")
    created = await store.create_and_claim([again], eager(again.id))
    assert created.ids == [first.id]
    assert created.claimed == []
    assert await store.get_execution(again.id) is None
    row = await store.get_execution(first.id)
    assert row is not None and (row.status, row.attempt) == ("queued", 0)


async def test_a_pinned_run_keeps_its_deployment(store: Store) -> None:
    new = new_execution("wf", T0, queue_name="wf", deployment_id="v0")
    [taken] = (await store.create_and_claim([new], eager(new.id, deployment_id="v1"))).claimed
    assert taken.execution.deployment_id == "v0"


async def test_queued_runs_wake_this_processs_claimers(store: Store) -> None:
    work = store.hub.work_event()
    taken = new_execution("wf", T0, queue_name="wf")
    queued = new_execution("other", T0, queue_name="other")
    await store.create_and_claim([taken, queued], eager(taken.id))
    assert work.is_set()


async def test_children_started_by_a_parent_may_be_taken_by_its_worker(store: Store) -> None:
    parent = new_execution("parent", T0, queue_name="parent")
    [p] = (await store.create_and_claim([parent], eager(parent.id))).claimed
    kids = children(p, "fan_out", 3)
    for kid in kids:
        kid.queue_name = "kid"
    started = await store.start_children(
        parent.id,
        1,
        "fan_out",
        kids,
        wait=True,
        output=None,
        now=T0 + 2,
        claim=eager(kids[0].id, kids[2].id, at=T0 + 2),
    )
    assert started
    assert [c.execution.id for c in started.claimed] == [kids[0].id, kids[2].id]
    assert all((c.execution.status, c.execution.attempt) == ("running", 1) for c in started.claimed)
    row = await store.get_execution(parent.id)
    assert row is not None and row.status == "waiting", "the parent parked in the same transaction"
    [other] = await store.claim("w2", ["kid"], 10, T0 + 3, 30.0)
    assert other.execution.id == kids[1].id
    for i, kid in enumerate(kids):  # every child is on its first attempt
        assert await store.complete_execution(kid.id, 1, f'"{i}"', T0 + 4)
    row = await store.get_execution(parent.id)
    assert row is not None and row.status == "queued", "the last child requeued its parent"


async def test_a_fenced_out_parent_starts_no_child(store: Store) -> None:
    parent = new_execution("parent", T0, queue_name="parent")
    [p] = (await store.create_and_claim([parent], eager(parent.id))).claimed
    kids = children(p, "fan_out", 1)
    kids[0].queue_name = "kid"
    started = await store.start_children(
        parent.id,
        2,  # not its attempt
        "fan_out",
        kids,
        wait=False,
        output="[]",
        now=T0 + 2,
        claim=eager(kids[0].id, at=T0 + 2),
    )
    assert not started
    assert started.claimed == []
    assert await store.get_execution(kids[0].id) is None
