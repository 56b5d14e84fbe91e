"""Contract: the trace context a run was started under travels with it.

Methods: ``create_execution``, ``create_executions``, ``start_children``,
``claim``, ``get_execution``, ``list_executions`` (the ``trace_context``
column, a W3C traceparent the store keeps as opaque text).
"""

from __future__ import annotations

from polos.store import Store

from .kit import T0, children, running

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CHILD = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"


async def test_a_run_keeps_its_trace_context_from_submit_to_claim(store: Store) -> None:
    claimed = await running(store, "traced", trace_context=PARENT)
    assert claimed.execution.trace_context == PARENT
    row = await store.get_execution(claimed.execution.id)
    assert row is not None and row.trace_context == PARENT


async def test_a_run_started_outside_any_trace_has_none(store: Store) -> None:
    claimed = await running(store, "untraced")
    assert claimed.execution.trace_context is None


async def test_children_started_in_one_transaction_keep_each_their_own(store: Store) -> None:
    parent = await running(store, "parent", trace_context=PARENT)
    kids = children(parent, "spawn", 2)
    kids[0].trace_context = CHILD
    assert await store.start_children(
        parent.execution.id, 1, "spawn", kids, wait=False, output="[]", now=T0 + 1
    )
    got = {k.id: (await store.get_execution(k.id)) for k in kids}
    assert got[kids[0].id] is not None and got[kids[0].id].trace_context == CHILD  # type: ignore[union-attr]
    assert got[kids[1].id] is not None and got[kids[1].id].trace_context is None  # type: ignore[union-attr]
    [claimed] = await store.claim("w2", ["kid"], 1, T0 + 2, 30.0)
    assert claimed.execution.trace_context in (CHILD, None)
    listed = {r.id: r.trace_context for r in await store.list_executions(workflow_id="kid")}
    assert listed == {kids[0].id: CHILD, kids[1].id: None}
