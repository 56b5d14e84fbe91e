"""Spans exported by Polos's SDK workers, kept for the trace API (see migrations ``*_spans``).

Our own workers export their spans over OTLP (:mod:`polos.observability`) and
store none; an SDK worker sends its spans to the server instead
(``POST /internal/spans/batch``), and the server keeps them here, in the
orchestrator's shape, for ``GET /api/v1/traces``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SpanRow:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    #: JSON text, or None, for each of these.
    attributes: str | None
    events: str | None
    input: str | None
    output: str | None
    error: str | None
    initial_state: str | None
    final_state: str | None
    started_at: float
    ended_at: float | None
    updated_at: float


#: The span columns every span query selects, in SpanRow's field order.
SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, span_type, attributes, events, input, output, "
    "error, initial_state, final_state, started_at, ended_at, updated_at"
)


@dataclass(slots=True)
class TraceSummary:
    """One trace of the list: its first root span's start and input, its last root
    span's end, output and error (a run's attempts each have a root span)."""

    trace_id: str
    root_span_type: str
    root_span_name: str
    input: str | None
    output: str | None
    error: str | None
    started_at: float
    ended_at: float | None


def astuple_span(s: SpanRow) -> tuple[Any, ...]:
    """A span's values in :data:`SPAN_COLUMNS` order (the backends' insert parameters)."""
    return tuple(getattr(s, name) for name in SpanRow.__slots__)


def span_queries(package: str) -> dict[str, str]:
    """A backend's named span queries (its ``spans.sql``), ``SPAN_COLUMNS`` expanded."""
    from .sql import load_queries

    queries = load_queries(package, file="spans.sql")
    return {name: text.replace("SPAN_COLUMNS", SPAN_COLUMNS) for name, text in queries.items()}
