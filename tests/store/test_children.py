"""Contract: child executions, and the parent woken by the last one to end.

Methods: ``start_children``, ``list_run_tree`` (and ``complete_execution`` /
``fail_execution`` / ``cancel_execution`` of a child, which count a waiting
parent down: the last child's ending records the parent's step and queues
the parent again, in the same transaction).
"""

from __future__ import annotations

import orjson

from polos.store import Store

from .kit import T0, children, claim_all, events_of, running, step


async def test_waiting_children_park_the_parent_until_the_last_one_ends(store: Store) -> None:
    parent = await running(store, "parent")
    kids = children(parent, "fan_out", 3)
    assert await store.start_children(
        parent.execution.id,
        1,
        "fan_out",
        kids,
        wait=True,
        output=None,
        now=T0 + 1,
        state='{"phase": "fan-out"}',
    )
    row = await store.get_execution(parent.execution.id)
    assert row is not None
    assert (row.status, row.wait_kind, row.wait_step_key, row.pending_children) == (
        "waiting",
        "children",
        "fan_out",
        3,
    )
    assert row.state == '{"phase": "fan-out"}'
    for k in kids:
        child = await store.get_execution(k.id)
        assert child is not None and child.status == "queued"
        assert (child.parent_execution_id, child.root_execution_id, child.step_key) == (
            parent.execution.id,
            parent.execution.id,
            "fan_out",
        )
        assert child.child_index == k.child_index
    claimed = await claim_all(store, "kid")
    assert set(claimed) == {k.id for k in kids}

    # They end in any order; the outcome lists them by child_index.
    assert await store.complete_execution(kids[2].id, 1, '"two"', T0 + 3)
    assert await store.fail_execution(kids[0].id, 1, '{"type": "Boom"}', T0 + 4)
    row = await store.get_execution(parent.execution.id)
    assert row is not None and (row.status, row.pending_children) == ("waiting", 1)
    assert await store.complete_execution(kids[1].id, 1, '{"one": 1}', T0 + 5)

    row = await store.get_execution(parent.execution.id)
    assert row is not None and (row.status, row.wait_kind, row.pending_children) == (
        "queued",
        None,
        0,
    )
    recorded = await store.get_step(parent.execution.id, "fan_out")
    assert recorded is not None and recorded.kind == "children" and recorded.error is None
    outcome = orjson.loads(recorded.output or "")
    assert [(o["execution_id"], o["status"], o["success"]) for o in outcome] == [
        (kids[0].id, "failed", False),
        (kids[1].id, "completed", True),
        (kids[2].id, "completed", True),
    ]
    assert outcome[0]["error"] == {"type": "Boom"} and outcome[0]["result"] is None
    assert [o["result"] for o in outcome[1:]] == [{"one": 1}, "two"]
    assert {o["workflow_id"] for o in outcome} == {"kid"}
    assert (await events_of(store, parent.execution.id))[-1] == "resumed"
    [again] = await store.claim("w", ["parent"], 1, T0 + 6, 30.0)
    assert again.execution.attempt == 2 and [s.step_key for s in again.steps] == ["fan_out"]


async def test_children_started_without_waiting_record_the_handles_at_once(store: Store) -> None:
    parent = await running(store, "parent")
    kids = children(parent, "spawn", 2)
    handles = orjson.dumps([k.id for k in kids]).decode()
    assert await store.start_children(
        parent.execution.id, 1, "spawn", kids, wait=False, output=handles, now=T0 + 1
    )
    row = await store.get_execution(parent.execution.id)
    assert row is not None and row.status == "running"
    recorded = await store.get_step(parent.execution.id, "spawn")
    assert recorded is not None and recorded.kind == "invoke"
    assert orjson.loads(recorded.output or "") == [k.id for k in kids]
    assert set(await claim_all(store, "kid")) == {k.id for k in kids}
    # The parent may finish first: its children outlive it.
    assert await store.complete_execution(parent.execution.id, 1, "null", T0 + 3)
    for k in kids:
        assert await store.complete_execution(k.id, 1, "null", T0 + 4)
    assert len(await store.list_steps(parent.execution.id)) == 1


async def test_a_stale_parent_starts_no_children(store: Store) -> None:
    parent = await running(store, "parent")
    kids = children(parent, "fan_out", 2)
    assert not await store.start_children(
        parent.execution.id, 2, "fan_out", kids, wait=True, output=None, now=T0 + 1
    )
    assert not await store.start_children(
        parent.execution.id, 2, "fan_out", kids, wait=False, output="[]", now=T0 + 1
    )
    for k in kids:
        assert await store.get_execution(k.id) is None
    row = await store.get_execution(parent.execution.id)
    assert row is not None and row.status == "running"


async def test_a_bounded_wait_on_children_times_out_and_the_children_go_on(store: Store) -> None:
    parent = await running(store, "parent")
    kids = children(parent, "fan_out", 2)
    await store.start_children(
        parent.execution.id,
        1,
        "fan_out",
        kids,
        wait=True,
        output=None,
        now=T0 + 1,
        wake_at=T0 + 20,
    )
    assert await store.fire_due_timers(T0 + 20) == 1
    recorded = await store.get_step(parent.execution.id, "fan_out")
    assert recorded is not None and recorded.output is None
    assert orjson.loads(recorded.error or "")["type"] == "WaitTimeoutError"
    row = await store.get_execution(parent.execution.id)
    assert row is not None and row.status == "queued"
    for k in kids:
        kid = await store.get_execution(k.id)
        assert kid is not None and kid.status == "queued"
    await claim_all(store, "kid", T0 + 21)
    for k in kids:
        assert await store.complete_execution(k.id, 1, "null", T0 + 22)
    assert len(await store.list_steps(parent.execution.id)) == 1, "nothing resolves twice"


async def test_a_cancelled_child_counts_as_ended(store: Store) -> None:
    parent = await running(store, "parent")
    [kid] = children(parent, "one", 1)
    await store.start_children(
        parent.execution.id, 1, "one", [kid], wait=True, output=None, now=T0 + 1
    )
    await store.cancel_execution(kid.id, T0 + 2)
    row = await store.get_execution(parent.execution.id)
    assert row is not None and row.status == "queued"
    recorded = await store.get_step(parent.execution.id, "one")
    assert recorded is not None
    [outcome] = orjson.loads(recorded.output or "")
    assert (outcome["status"], outcome["success"]) == ("cancelled", False)


async def test_the_run_tree_is_the_root_and_every_descendant_oldest_first(store: Store) -> None:
    root = await running(store, "root")
    kids = children(root, "kids", 2)
    await store.start_children(
        root.execution.id, 1, "kids", kids, wait=False, output="[]", now=T0 + 1
    )
    claimed = await claim_all(store, "kid")
    first_kid = claimed[kids[0].id]
    [grandchild] = children(first_kid, "deeper", 1, workflow_id="grandkid")
    grandchild.created_at = T0 + 5
    await store.start_children(
        kids[0].id, 1, "deeper", [grandchild], wait=True, output=None, now=T0 + 5
    )
    other_root = await running(store, "unrelated")
    tree = await store.list_run_tree(root.execution.id)
    assert [r.id for r in tree] == [root.execution.id, kids[0].id, kids[1].id, grandchild.id]
    assert tree[-1].root_execution_id == root.execution.id
    assert [r.id for r in await store.list_run_tree(other_root.execution.id)] == [
        other_root.execution.id
    ]


async def test_a_deferred_step_commits_with_the_children_under_the_same_fence(
    store: Store,
) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    llm = step("llm_1", 1, '{"answer": 1}', state='{"s": 1}', started_at=T0 + 0.5)
    kids = children(parent, "tools_1", 2)
    # A stale attempt is refused: neither the step nor the children exist.
    assert not await store.start_children(
        pid, 2, "tools_1", kids, wait=True, output=None, now=T0 + 1, steps=[llm]
    )
    assert await store.list_steps(pid) == []
    assert [await store.get_execution(k.id) for k in kids] == [None, None]

    assert await store.start_children(
        pid, 1, "tools_1", kids, wait=True, output=None, now=T0 + 1, steps=[llm]
    )
    [recorded] = await store.list_steps(pid)
    assert (recorded.step_key, recorded.kind, recorded.output, recorded.attempt) == (
        "llm_1",
        "run",
        '{"answer": 1}',
        1,
    )
    assert (recorded.state, recorded.started_at) == ('{"s": 1}', T0 + 0.5)
    row = await store.get_execution(pid)
    assert row is not None and (row.status, row.pending_children) == ("waiting", 2)
    assert None not in [await store.get_execution(k.id) for k in kids]
