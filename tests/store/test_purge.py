"""Contract: retention (purging finished run trees, per-workflow retention, leases).

Methods: ``purge_finished``, ``set_retention``, ``list_retention``,
``take_lease``, ``drop_lease``. A purge takes whole trees whose every run
finished before the cutoff, with their steps, history and tree topics' events;
it never touches a queued, running or waiting run, nor a tree with one.
"""

from __future__ import annotations

import math
import uuid

import pytest

from polos.store import StepRow, Store
from polos.store.records import NewExecution, ServedWorkflow
from polos.store.spans import SpanRow

from .kit import T0, children, claim_all, event, new_execution, running, step

CUTOFF = T0 + 50
ALL = ("completed", "failed", "cancelled")


async def finished(
    store: Store, workflow_id: str = "wf", at: float = T0, status: str = "completed"
) -> str:
    """A root run that ran one step and a suspend, published on its tree topic,
    and ended with ``status`` at ``at + 1``; its resume topic holds the resume."""
    claimed = await running(store, workflow_id, at=at)
    eid = claimed.execution.id
    assert await store.record_step(eid, 1, step("a", 1, at=at + 0.6))
    suspend = StepRow("approve", "suspend", "", '{"ok": true}', None, 1, at + 0.7)
    assert await store.record_step(eid, 1, suspend)
    await store.publish_events(
        [event(f"workflow/{workflow_id}/{eid}"), event(f"polos.resume/{eid}/approve")], at + 0.7
    )
    if status == "completed":
        assert await store.complete_execution(eid, 1, '"done"', at + 1)
    elif status == "failed":
        assert await store.fail_execution(eid, 1, '{"message": "boom"}', at + 1)
    else:
        await store.cancel_execution(eid, at + 1)
    return eid


async def exists(store: Store, *ids: str) -> list[bool]:
    return [await store.get_execution(i) is not None for i in ids]


async def test_purge_takes_old_finished_trees_with_everything_keyed_by_them(
    store: Store,
) -> None:
    done = await finished(store)
    failed = await finished(store, status="failed")
    cancelled = await finished(store, status="cancelled")
    recent = await finished(store, at=T0 + 100)
    waiting = (await running(store)).execution.id
    assert await store.begin_wait(waiting, 1, "nap", "timer", T0 + 10_000, T0 + 1)
    busy = (await running(store)).execution.id
    queued = new_execution(at=T0)
    await store.create_execution(queued)
    await store.publish_events([event("orders")], T0)

    dry = await store.purge_finished(CUTOFF, statuses=ALL, dry_run=True)
    assert dry == type(dry)(3, 3, None, None, None)  # a dry run counts trees and runs
    assert await exists(store, done, failed, cancelled) == [True, True, True]

    gone = await store.purge_finished(CUTOFF, statuses=ALL)
    assert (gone.trees, gone.executions, gone.steps, gone.events) == (3, 3, 6, 6)
    assert gone.history is not None and gone.history >= 9
    assert await exists(store, done, failed, cancelled) == [False, False, False]
    assert await exists(store, recent, waiting, busy, queued.id) == [True] * 4
    for eid in (done, failed, cancelled):
        assert await store.list_steps(eid) == []
        assert await store.list_history(eid) == []
        assert await store.read_events(f"workflow/wf/{eid}", 0) == []
        assert await store.read_events(f"polos.resume/{eid}/approve", 0) == []
    assert len(await store.list_steps(recent)) == 2
    assert len(await store.read_events(f"workflow/wf/{recent}", 0)) == 1
    assert len(await store.read_events("orders", 0)) == 1  # no run's topic: kept
    assert await store.purge_finished(CUTOFF, statuses=ALL) == type(gone)()
    # A cutoff past everything still leaves the active runs alone.
    await store.purge_finished(T0 + 100_000, statuses=ALL)
    assert await exists(store, recent, waiting, busy, queued.id) == [False, True, True, True]


async def test_children_go_with_their_root_and_an_unfinished_child_keeps_the_tree(
    store: Store,
) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    kids = children(parent, "spawn", 2)
    assert await store.start_children(pid, 1, "spawn", kids, wait=False, output="[]", now=T0 + 1)
    claimed = await claim_all(store, "kid")
    first, second = (k.id for k in kids)
    assert await store.record_step(first, claimed[first].execution.attempt, step("k", 1))
    assert await store.complete_execution(first, 1, "1", T0 + 2)
    assert await store.complete_execution(pid, 1, '"ok"', T0 + 3)

    # The second child still runs (fire and forget): the whole tree stays.
    assert (await store.purge_finished(CUTOFF, statuses=ALL)).trees == 0
    assert await exists(store, pid, first, second) == [True, True, True]

    # It finishes after the cutoff: still kept, the tree is not all older.
    assert await store.complete_execution(second, 1, "2", CUTOFF + 1)
    assert (await store.purge_finished(CUTOFF, statuses=ALL)).trees == 0

    dry = await store.purge_finished(CUTOFF + 10, statuses=ALL, dry_run=True)
    assert (dry.trees, dry.executions) == (1, 3)
    gone = await store.purge_finished(CUTOFF + 10, statuses=ALL)
    assert (gone.trees, gone.executions, gone.steps) == (1, 3, 2)  # spawn + k
    assert await exists(store, pid, first, second) == [False, False, False]
    assert await store.list_steps(first) == []
    assert await store.list_run_tree(pid) == []


async def test_a_root_naming_itself_as_root_is_one_run(store: Store) -> None:
    """The engine gives each top-level run its own id as root_execution_id: the
    tree, the dry run's count and the purge each take that root once."""
    pid = str(uuid.uuid4())
    await store.create_execution(NewExecution(pid, "parent", "{}", T0, root_execution_id=pid))
    [parent] = await store.claim("w1", ["parent"], 1, T0 + 0.5, 30.0)
    kids = children(parent, "spawn", 2)
    assert await store.start_children(pid, 1, "spawn", kids, wait=False, output="[]", now=T0 + 1)
    await claim_all(store, "kid")
    for kid in kids:
        assert await store.complete_execution(kid.id, 1, "1", T0 + 2)
    assert await store.complete_execution(pid, 1, '"ok"', T0 + 3)
    assert sorted(r.id for r in await store.list_run_tree(pid)) == sorted(
        [pid, *(k.id for k in kids)]
    )

    dry = await store.purge_finished(CUTOFF, statuses=ALL, dry_run=True)
    assert (dry.trees, dry.executions) == (1, 3)
    gone = await store.purge_finished(CUTOFF, statuses=ALL)
    assert (gone.trees, gone.executions) == (1, 3)
    assert await exists(store, pid, *(k.id for k in kids)) == [False, False, False]


async def test_purge_filters_by_status_and_workflow_and_goes_in_batches(store: Store) -> None:
    a = [await finished(store, "a") for _ in range(3)]
    b_failed = await finished(store, "b", status="failed")
    b_done = await finished(store, "b")

    only_failed = await store.purge_finished(CUTOFF, statuses=["failed"])
    assert only_failed.trees == 1
    assert await exists(store, b_failed, b_done) == [False, True]

    assert (await store.purge_finished(CUTOFF, statuses=ALL, exclude_workflow_ids=["b"])).trees == 3
    assert await exists(store, b_done) == [True]

    more = [await finished(store, "a", at=T0 + i) for i in range(3)]
    batches = []
    while n := (await store.purge_finished(CUTOFF, statuses=ALL, workflow_id="a", limit=2)).trees:
        batches.append(n)
    assert batches == [2, 1]
    assert await exists(store, *a, *more) == [False] * 6
    assert await exists(store, b_done) == [True]


async def test_only_finished_statuses_can_be_purged(store: Store) -> None:
    for bad in (["running"], ["waiting", "completed"], []):
        with pytest.raises(ValueError, match="only finished runs"):
            await store.purge_finished(CUTOFF, statuses=bad)


async def test_retention_per_workflow_is_recorded_for_served_workflows(store: Store) -> None:
    await store.register_workflows(
        [ServedWorkflow("short", "short"), ServedWorkflow("keep", "keep")], T0
    )
    assert await store.list_retention() == {}
    await store.set_retention({"short": 3600.0, "keep": math.inf, "unknown": 5.0})
    assert await store.list_retention() == {"keep": math.inf, "short": 3600.0}
    await store.set_retention({"short": None})
    assert await store.list_retention() == {"keep": math.inf}
    # A worker registering the workflow again keeps its retention.
    await store.register_workflows([ServedWorkflow("keep", "keep")], T0 + 1)
    assert await store.list_retention() == {"keep": math.inf}


async def test_a_lease_has_one_holder_until_it_expires_or_is_dropped(store: Store) -> None:
    assert await store.take_lease("sweep", "w1", T0, 60)
    assert await store.take_lease("sweep", "w1", T0 + 10, 60)  # renewed by its holder
    assert not await store.take_lease("sweep", "w2", T0 + 69, 60)
    assert await store.take_lease("other", "w2", T0, 60)  # names are apart
    assert await store.take_lease("sweep", "w2", T0 + 70, 60)  # expired: taken over
    await store.drop_lease("sweep", "w1")  # not w1's any more: nothing happens
    assert not await store.take_lease("sweep", "w1", T0 + 71, 60)
    await store.drop_lease("sweep", "w2")
    assert await store.take_lease("sweep", "w1", T0 + 72, 60)


async def test_retrying_a_child_holds_its_root_so_a_purge_leaves_the_tree(
    store: Store, database_url: str
) -> None:
    """PostgreSQL: a purge takes roots FOR UPDATE SKIP LOCKED; a retry of a child
    takes its root's lock first, so the two never interleave (the purge would
    otherwise delete the child just re-queued after its snapshot)."""
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite runs one writing transaction at a time")
    import asyncio

    import asyncpg

    parent = await running(store, "parent")
    pid = parent.execution.id
    [kid] = children(parent, "spawn", 1)
    assert await store.start_children(pid, 1, "spawn", [kid], wait=False, output="[]", now=T0 + 1)
    await claim_all(store, "kid")
    assert await store.fail_execution(kid.id, 1, '{"message": "boom"}', T0 + 2)
    assert await store.complete_execution(pid, 1, '"ok"', T0 + 3)

    dsn, schema = database_url.split("?schema=")
    holder = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", pid)
        retry = asyncio.ensure_future(store.retry_execution(kid.id, T0 + 4))
        await asyncio.sleep(0.5)
        assert not retry.done(), "the retry went ahead without its root's lock"
        await tx.rollback()
        outcome = await asyncio.wait_for(retry, 30)
    finally:
        await holder.close()
    assert outcome is not None and outcome.retried
    # The child is queued again: its tree is no longer finished, so no purge takes it.
    assert (await store.purge_finished(CUTOFF, statuses=ALL)).trees == 0
    assert await exists(store, pid, kid.id) == [True, True]


async def test_purge_takes_the_spans_sdk_workers_exported_for_the_tree(store: Store) -> None:
    def span(root_id: str) -> SpanRow:
        trace = root_id.replace("-", "")
        return SpanRow(trace, "s1", None, "workflow.wf", "workflow", *[None] * 7, T0, T0 + 1, T0)

    old, recent = await finished(store), await finished(store, at=T0 + 100)
    await store.record_spans([span(old), span(recent)])
    assert (await store.purge_finished(CUTOFF, statuses=ALL)).trees == 1
    assert await store.trace_spans(old.replace("-", "")) == []
    assert len(await store.trace_spans(recent.replace("-", ""))) == 1
