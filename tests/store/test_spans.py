"""Contract: spans exported by SDK workers.

Methods: ``record_spans``, ``trace_spans``, ``list_traces``.
"""

from __future__ import annotations

from polos.store import Store
from polos.store.spans import SpanRow, TraceSummary

from .kit import T0

TRACE_A = "a" * 32
TRACE_B = "b" * 32


def span(
    trace: str, span_id: str, parent: str | None, name: str, start: float, **kw: object
) -> SpanRow:
    fields: dict[str, object] = {
        "attributes": None,
        "events": None,
        "input": None,
        "output": None,
        "error": None,
        "initial_state": None,
        "final_state": None,
        "ended_at": start + 1,
        "updated_at": T0,
    }
    fields.update(kw)
    span_type = name.split(".", 1)[0]
    return SpanRow(trace, span_id, parent, name, span_type, started_at=start, **fields)  # type: ignore[arg-type]


async def test_spans_are_stored_and_replaced_by_a_later_export(store: Store) -> None:
    assert await store.trace_spans(TRACE_A) == []
    root = span(TRACE_A, "r1", None, "workflow.order", T0, ended_at=None, input='{"n": 1}')
    child = span(TRACE_A, "s1", "r1", "step.charge", T0 + 0.5)
    await store.record_spans([root, child])
    await store.record_spans([])
    assert await store.trace_spans(TRACE_A) == [root, child]
    # The SDK exports a span again once it ends: the newer one wins.
    ended = span(TRACE_A, "r1", None, "workflow.order", T0, ended_at=T0 + 3, output='"ok"')
    await store.record_spans([ended])
    assert await store.trace_spans(TRACE_A) == [ended, child]


async def test_traces_list_one_row_per_trace_from_its_root_spans(store: Store) -> None:
    await store.record_spans(
        [
            # Trace A: two attempts (two root spans); the second ends with an error.
            span(TRACE_A, "a1", None, "workflow.order", T0, input='{"n": 1}', ended_at=T0 + 1),
            span(TRACE_A, "a2", None, "workflow.order", T0 + 5, ended_at=T0 + 6, error='{"m": 1}'),
            span(TRACE_A, "a3", "a2", "step.charge", T0 + 5.5),
            span(TRACE_B, "b1", None, "agent.helper", T0 + 2, output='"hi"', ended_at=T0 + 3),
        ]
    )
    a = TraceSummary(
        TRACE_A, "workflow", "workflow.order", '{"n": 1}', None, '{"m": 1}', T0, T0 + 6
    )
    b = TraceSummary(TRACE_B, "agent", "agent.helper", None, '"hi"', None, T0 + 2, T0 + 3)
    assert await store.list_traces() == [a, b]
    assert await store.list_traces(limit=1, offset=1) == [b]
    assert await store.list_traces(has_error=True) == [a]
    assert await store.list_traces(has_error=False) == [b]
    assert await store.list_traces(root_span_type="agent") == [b]
    assert await store.list_traces(root_span_name="ord") == [a]
    assert await store.list_traces(root_span_name="%") == []
    assert await store.list_traces(started_after=T0 + 1) == [b]
    assert await store.list_traces(ended_before=T0 + 4) == [b]
