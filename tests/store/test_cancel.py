"""Contract: cancelling an execution and its tree.

Method: ``cancel_execution``. A queued, waiting or running execution ends
``cancelled`` at once with its active descendants; a running one's worker is
fenced off; a finished execution is left as it is.
"""

from __future__ import annotations

import orjson

from polos.store import Store

from .kit import T0, children, claim_all, events_of, new_execution, running, step


async def test_cancelling_a_queued_execution(store: Store) -> None:
    new = new_execution()
    await store.create_execution(new)
    row = await store.cancel_execution(new.id, T0 + 1)
    assert row is not None and (row.id, row.status, row.completed_at) == (
        new.id,
        "cancelled",
        T0 + 1,
    )
    assert orjson.loads(row.error or "")["type"] == "ExecutionCancelledError"
    assert row == await store.get_execution(new.id)
    assert await events_of(store, new.id) == ["created", "cancelled"]
    assert await store.claim("w", ["wf"], 1, T0 + 2, 30.0) == []


async def test_a_cancelled_running_execution_fences_its_worker_off(store: Store) -> None:
    eid = (await running(store)).execution.id
    row = await store.cancel_execution(eid, T0 + 1)
    assert row is not None and (row.status, row.owner, row.lease_expires_at) == (
        "cancelled",
        None,
        None,
    )
    assert not await store.record_step(eid, 1, step("a", 1))
    assert not await store.begin_wait(eid, 1, "nap", "timer", T0 + 5, T0 + 2)
    assert not await store.complete_execution(eid, 1, "null", T0 + 2)
    assert not await store.fail_execution(eid, 1, "{}", T0 + 2)
    assert not await store.release_execution(eid, 1, T0 + 2)
    assert await store.heartbeat("w1", [(eid, 1)], T0 + 2, 30.0) == {eid}
    assert await store.requeue_expired_leases(T0 + 1000) == 0
    row = await store.get_execution(eid)
    assert row is not None and row.status == "cancelled"


async def test_a_cancelled_wait_never_fires(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.begin_wait(eid, 1, "nap", "timer", T0 + 5, T0 + 1)
    row = await store.cancel_execution(eid, T0 + 2)
    assert row is not None and (row.status, row.wait_kind, row.wake_at) == (
        "cancelled",
        None,
        None,
    )
    assert await store.fire_due_timers(T0 + 10) == 0
    assert await store.list_waits("timer") == []
    assert await store.list_steps(eid) == []


async def test_cancelling_a_root_cancels_every_active_descendant(store: Store) -> None:
    root = await running(store, "root")
    kids = children(root, "kids", 3)
    await store.start_children(
        root.execution.id, 1, "kids", kids, wait=True, output=None, now=T0 + 1
    )
    claimed = await claim_all(store, "kid")
    assert await store.complete_execution(kids[2].id, 1, '"done"', T0 + 2)
    [grandchild] = children(claimed[kids[0].id], "deeper", 1, workflow_id="grandkid")
    await store.start_children(
        kids[0].id, 1, "deeper", [grandchild], wait=True, output=None, now=T0 + 2
    )
    bystander = await running(store, "bystander")

    row = await store.cancel_execution(root.execution.id, T0 + 3)
    assert row is not None and row.status == "cancelled"
    for eid in (kids[0].id, kids[1].id, grandchild.id):
        kid = await store.get_execution(eid)
        assert kid is not None and (kid.status, kid.completed_at) == ("cancelled", T0 + 3)
        assert (await events_of(store, eid))[-1] == "cancelled"
    done = await store.get_execution(kids[2].id)
    assert done is not None and (done.status, done.result) == ("completed", '"done"')
    other = await store.get_execution(bystander.execution.id)
    assert other is not None and other.status == "running"
    assert await store.claim("w", ["root", "kid", "grandkid"], 10, T0 + 4, 30.0) == []
    assert {r.status for r in await store.list_run_tree(root.execution.id)} == {
        "cancelled",
        "completed",
    }


async def test_cancelling_a_finished_or_unknown_execution_changes_nothing(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.complete_execution(eid, 1, '"ok"', T0 + 1)
    row = await store.cancel_execution(eid, T0 + 2)
    assert row is not None and (row.status, row.result, row.completed_at) == (
        "completed",
        '"ok"',
        T0 + 1,
    )
    assert "cancelled" not in await events_of(store, eid)
    assert await store.cancel_execution("unknown", T0 + 2) is None
