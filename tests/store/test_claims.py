"""Contract: claiming, leases, heartbeats, hand-backs and take-overs.

Methods: ``claim``, ``heartbeat``, ``release_execution``,
``requeue_expired_leases``, ``requeue_worker`` (and ``register_worker`` /
``list_workers`` where a heartbeat or a dead worker touches them).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
import pytest

from polos.store import Store, WorkerRow

from .kit import T0, event, events_of, new_execution, running, step


async def test_a_claim_runs_the_execution_under_a_lease_with_a_new_attempt(store: Store) -> None:
    new = new_execution("wf", T0, run_timeout_seconds=100.0)
    await store.create_execution(new)
    [claimed] = await store.claim("w1", ["wf"], 10, T0 + 1, 30.0)
    row = claimed.execution
    assert (row.id, row.status, row.owner, row.attempt) == (new.id, "running", "w1", 1)
    assert row.lease_expires_at == T0 + 31
    assert row.started_at == T0 + 1
    assert row.deadline_at == T0 + 101, "the run timeout counts from the first claim"
    assert claimed.steps == []
    assert row == await store.get_execution(new.id)
    [_, claimed_entry] = await store.list_history(new.id)
    assert (claimed_entry.event, claimed_entry.attempt) == ("claimed", 1)
    assert orjson.loads(claimed_entry.detail or "{}").get("owner") == "w1"
    assert await store.claim("w2", ["wf"], 10, T0 + 2, 30.0) == [], "claimed once"


async def test_claims_take_only_served_workflows_by_priority_then_age_up_to_the_limit(
    store: Store,
) -> None:
    old = new_execution("wf", T0)
    young = new_execution("wf", T0 + 1)
    urgent = new_execution("wf", T0 + 2, priority=10)
    other = new_execution("other", T0 - 5)
    await store.create_executions([young, other, urgent, old])
    assert await store.claim("w", ["wf"], 0, T0 + 3, 30.0) == []
    assert await store.claim("w", [], 10, T0 + 3, 30.0) == []
    first = await store.claim("w", ["wf"], 2, T0 + 3, 30.0)
    assert [c.execution.id for c in first] == [urgent.id, old.id]
    rest = await store.claim("w", ["wf", "nothing-queued"], 10, T0 + 3, 30.0)
    assert [c.execution.id for c in rest] == [young.id]
    row = await store.get_execution(other.id)
    assert row is not None and row.status == "queued"


async def test_a_claim_gives_an_unassigned_queue_the_workers_mapping(store: Store) -> None:
    unassigned = new_execution("wf", T0)
    assigned = new_execution("wf", T0 + 1, queue_name="explicit")
    await store.create_executions([unassigned, assigned])
    claimed = await store.claim("w", {"wf": "wf-queue"}, 10, T0 + 2, 30.0)
    queues = {c.execution.id: c.execution.queue_name for c in claimed}
    assert queues == {unassigned.id: "wf-queue", assigned.id: "explicit"}


async def test_a_claim_after_a_take_over_brings_every_recorded_step(store: Store) -> None:
    first = await running(store)
    eid = first.execution.id
    assert await store.record_step(eid, 1, step("a", 1, '"A"', at=T0 + 1))
    assert await store.record_step(eid, 1, step("b", 1, '"B"', at=T0 + 2, state='{"s": 1}'))
    assert await store.release_execution(eid, 1, T0 + 3)
    [again] = await store.claim("w2", ["wf"], 1, T0 + 4, 30.0)
    assert again.execution.attempt == 2
    got = {(s.step_key, s.output, s.attempt, s.execution_id, s.state) for s in again.steps}
    assert got == {("a", '"A"', 1, eid, None), ("b", '"B"', 1, eid, '{"s": 1}')}
    # Held in memory by the worker: the claim may leave the steps out.
    assert await store.release_execution(eid, 2, T0 + 5)
    [held] = await store.claim("w2", ["wf"], 1, T0 + 6, 30.0, skip_steps_for={eid})
    assert held.execution.attempt == 3 and held.steps == []


async def test_the_event_cursor_is_fixed_when_the_run_is_submitted(store: Store) -> None:
    """Every attempt reads events from the same place: what was committed at submission,
    not at its claim (an attempt that died before its wait must not skip events)."""
    before = await store.publish_events([event("t")], T0)
    assert before is not None
    eid = await store.create_execution(new_execution())
    later = await store.publish_events([event("t"), event("u")], T0)
    assert later is not None and before[0].seq < later[0].seq < later[1].seq
    [first] = await store.claim("w", ["wf"], 1, T0 + 1, 30.0)
    assert first.event_cursor == before[0].seq
    assert await store.release_execution(eid, 1, T0 + 2)
    await store.publish_events([event("t")], T0 + 2)
    [second] = await store.claim("w", ["wf"], 1, T0 + 3, 30.0)
    assert second.execution.attempt == 2 and second.event_cursor == before[0].seq


async def test_concurrent_claimers_never_share_an_execution(
    store: Store, stores: list[Store]
) -> None:
    news = [new_execution("wf", T0 + i * 0.001) for i in range(80)]
    await store.create_executions(news)
    taken: list[str] = []

    async def claimer(s: Store, name: str) -> None:
        while batch := await s.claim(name, ["wf"], 3, T0 + 1, 30.0):
            taken.extend(c.execution.id for c in batch)
            await asyncio.sleep(0)

    await asyncio.gather(*(claimer(s, f"w{i}") for i, s in enumerate(stores)))
    counts = Counter(taken)
    assert set(counts) == {n.id for n in news}
    assert max(counts.values()) == 1


async def test_a_heartbeat_renews_the_leases_still_held_and_names_the_lost_ones(
    store: Store,
) -> None:
    await store.register_worker(WorkerRow("w1", "host", 123, T0, T0))
    kept = (await running(store, "kept")).execution
    taken = (await running(store, "taken")).execution
    finished = (await running(store, "finished")).execution
    cancelled = (await running(store, "cancelled")).execution
    assert await store.release_execution(taken.id, 1, T0 + 1)
    await store.claim("w2", ["taken"], 1, T0 + 1, 30.0)
    assert await store.complete_execution(finished.id, 1, '"done"', T0 + 1)
    await store.cancel_execution(cancelled.id, T0 + 1)
    leases = [(e.id, 1) for e in (kept, taken, finished, cancelled)] + [("unknown", 1)]
    lost = await store.heartbeat("w1", leases, T0 + 10, 60.0)
    assert lost == {taken.id, finished.id, cancelled.id, "unknown"}
    row = await store.get_execution(kept.id)
    assert row is not None and row.lease_expires_at == T0 + 70
    other = await store.get_execution(taken.id)
    assert other is not None and other.owner == "w2" and other.lease_expires_at == T0 + 31
    [worker] = await store.list_workers()
    assert worker.heartbeat_at == T0 + 10
    assert await store.heartbeat("w1", [], T0 + 11, 60.0) == set()


async def test_a_lease_locked_by_another_transaction_does_not_hold_back_the_others(
    store: Store, database_url: str
) -> None:
    """PostgreSQL: a heartbeat skips a run whose row a transaction in flight has
    locked (a step being recorded), renews every other lease at once, and
    renews the skipped one when the lock goes. Waiting on that lock inside the
    one UPDATE would keep every lease renewed so far locked and uncommitted:
    each transaction touching those runs queued behind it, or deadlocked."""
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite runs one writing transaction at a time: no row locks")
    import asyncpg

    await store.register_worker(WorkerRow("w1", "host", 123, T0, T0))
    busy = (await running(store, "busy")).execution
    free = (await running(store, "free")).execution
    dsn, schema = database_url.split("?schema=")
    holder = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", busy.id)
        beat = asyncio.ensure_future(
            store.heartbeat("w1", [(busy.id, 1), (free.id, 1)], T0 + 10, 60.0)
        )
        for _ in range(300):
            row = await store.get_execution(free.id)
            if row is not None and row.lease_expires_at == T0 + 70:
                break
            await asyncio.sleep(0.01)
        assert row is not None and row.lease_expires_at == T0 + 70, (
            "the free run's lease waited for another run's lock"
        )
        assert not beat.done(), "the busy run's lease was given up instead of renewed"
        await tx.rollback()
        lost = await asyncio.wait_for(beat, 30)
    finally:
        await holder.close()
    assert lost == set()
    row = await store.get_execution(busy.id)
    assert row is not None and row.lease_expires_at == T0 + 70


async def test_a_stale_attempt_cannot_renew_its_lease(store: Store) -> None:
    eid = (await running(store, worker="w1")).execution.id
    assert await store.requeue_expired_leases(T0 + 100) == 1
    await store.claim("w2", ["wf"], 1, T0 + 100, 30.0)
    assert await store.heartbeat("w1", [(eid, 1)], T0 + 101, 30.0) == {eid}
    row = await store.get_execution(eid)
    assert row is not None and (row.owner, row.attempt, row.lease_expires_at) == (
        "w2",
        2,
        T0 + 130,
    )


async def test_release_hands_a_running_execution_back_and_is_fenced(store: Store) -> None:
    eid = (await running(store)).execution.id
    assert not await store.release_execution(eid, 7, T0 + 1), "a stale attempt is refused"
    assert await store.release_execution(eid, 1, T0 + 1)
    row = await store.get_execution(eid)
    assert row is not None and (row.status, row.owner, row.lease_expires_at) == (
        "queued",
        None,
        None,
    )
    # Sent again (a retry whose reply was lost): True or False, but it changes nothing.
    await store.release_execution(eid, 1, T0 + 2)
    row = await store.get_execution(eid)
    assert row is not None and (row.status, row.updated_at) == ("queued", T0 + 1)
    assert await events_of(store, eid) == ["created", "claimed", "released"]
    [again] = await store.claim("w2", ["wf"], 1, T0 + 3, 30.0)
    assert again.execution.attempt == 2
    assert again.execution.started_at == T0 + 0.5, "started_at is the first start"


async def test_only_expired_leases_are_requeued(store: Store) -> None:
    short = (await running(store, "short")).execution
    await store.create_execution(new_execution("long"))
    [long] = await store.claim("w1", ["long"], 1, T0 + 0.5, 300.0)
    assert await store.requeue_expired_leases(T0 + 30.5) == 0, "due, not past"
    assert await store.requeue_expired_leases(T0 + 31) == 1
    assert await store.requeue_expired_leases(T0 + 31) == 0
    s = await store.get_execution(short.id)
    l_ = await store.get_execution(long.execution.id)
    assert s is not None and (s.status, s.owner, s.lease_expires_at) == ("queued", None, None)
    assert l_ is not None and l_.status == "running"
    history = await store.list_history(short.id)
    assert [h.event for h in history] == ["created", "claimed", "lease_expired"]
    assert orjson.loads(history[-1].detail or "{}").get("owner") == "w1"
    [again] = await store.claim("w2", ["short"], 1, T0 + 32, 30.0)
    assert again.execution.attempt == 2 and again.execution.owner == "w2"


async def test_a_dead_workers_executions_are_requeued_and_it_is_forgotten(store: Store) -> None:
    await store.register_worker(WorkerRow("dead", "host", 1, T0, T0))
    await store.register_worker(WorkerRow("alive", "host", 2, T0 + 1, T0))
    mine = [(await running(store, f"d{i}", worker="dead")).execution for i in range(2)]
    theirs = (await running(store, "a", worker="alive")).execution
    assert await store.requeue_worker("dead", T0 + 5) == 2
    for e in mine:
        row = await store.get_execution(e.id)
        assert row is not None and (row.status, row.owner) == ("queued", None)
        assert (await events_of(store, e.id))[-1] == "owner_died"
    row = await store.get_execution(theirs.id)
    assert row is not None and (row.status, row.owner) == ("running", "alive")
    assert [w.worker_id for w in await store.list_workers()] == ["alive"]
    assert await store.requeue_worker("dead", T0 + 6) == 0
