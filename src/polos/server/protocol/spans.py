"""Spans from SDK workers, and the trace API that reads them (Polos's shapes).

Polos's SDK exports every span of its runs to ``POST /internal/spans/batch``
rather than to an OpenTelemetry collector; we keep them in the store's
``spans`` table and serve them as the orchestrator does: ``GET
/api/v1/traces`` (one row per trace, from its root spans) and ``GET
/api/v1/traces/{trace_id}`` (every span). A trace id is the root run's id
without its dashes (the SDK's convention, and our tracer's), so a trace's
status is its root run's.

Our own workers' spans are not here: they go over OTLP to the collector the
user configures (docs/observability.md); the dashboard's ``/runs/{id}/trace``
draws every run, SDK runs included, from the runs and steps in the store.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response

from ...store.spans import SpanRow, TraceSummary
from ..endpoint import Endpoint
from ..errors import bad_request, not_found
from ..http import Text, body, json_response, path_text, query
from ..models import _Request
from ..state import server_state
from .state import Done

_HEX = frozenset("0123456789abcdef")


def _check_trace_id(value: str) -> str:
    if len(value) != 32 or not set(value.lower()) <= _HEX:
        raise ValueError(
            f"trace_id must be 32 hexadecimal digits (the root run's id without dashes), "
            f"got {value[:64]!r}"
        )
    return value.lower()


class SpanIn(_Request):
    """One span as the SDK's exporter sends it (``DatabaseSpanExporter``)."""

    trace_id: str
    span_id: Text = Field(min_length=1)
    parent_span_id: Text | None = None
    name: Text = Field(min_length=1)
    span_type: Text = "custom"
    attributes: Any = None
    events: Any = None
    input: Any = None
    output: Any = None
    error: Any = None
    initial_state: Any = None
    final_state: Any = None
    started_at: datetime
    ended_at: datetime | None = None

    @field_validator("trace_id")
    @classmethod
    def _trace(cls, value: str) -> str:
        return _check_trace_id(value)


class SpansBatch(_Request):
    spans: list[SpanIn] = Field(max_length=10_000)


class SpanOut(BaseModel):
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    span_type: str
    attributes: Any = None
    events: Any = None
    input: Any = None
    output: Any = None
    error: Any = None
    initial_state: Any = None
    final_state: Any = None
    started_at: str | None = None
    ended_at: str | None = None


class TraceOut(BaseModel):
    """``GET /api/v1/traces/{trace_id}``."""

    trace_id: str
    spans: list[SpanOut]
    trace_start_time: str | None = None
    trace_end_time: str | None = None
    span_count: int
    error_count: int
    root_span_name: str | None = None
    status: str = Field(description="The root run's status; 'unknown' when no run has the id")


class TraceSummaryOut(BaseModel):
    trace_id: str
    root_span_type: str
    root_span_name: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: int | None = None
    input: Any = None
    output: Any = None
    root_error: Any = None
    status: str


class TracesOut(BaseModel):
    """``GET /api/v1/traces``."""

    traces: list[TraceSummaryOut]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _seconds(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _row(span: SpanIn, now: float) -> SpanRow:
    return SpanRow(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        span_type=span.span_type,
        attributes=_json(span.attributes),
        events=_json(span.events),
        input=_json(span.input),
        output=_json(span.output),
        error=_json(span.error),
        initial_state=_json(span.initial_state),
        final_state=_json(span.final_state),
        started_at=_seconds(span.started_at),
        ended_at=None if span.ended_at is None else _seconds(span.ended_at),
        updated_at=now,
    )


#: A batch of spans may be this many times the server's body limit: the SDK exports
#: up to 512 spans at once, each with its step's input and output (an LLM call's
#: whole conversation), and a refused batch is lost (the SDK only logs it).
SPANS_BODY_FACTOR = 16


async def store_spans(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, SpansBatch, state.settings.max_body_bytes * SPANS_BODY_FACTOR)
    await state.store.record_spans([_row(s, time.time()) for s in req.spans])
    return json_response(Done())


# reading ----------------------------------------------------------------------------------
def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _span_out(s: SpanRow) -> SpanOut:
    return SpanOut(
        trace_id=s.trace_id,
        span_id=s.span_id,
        parent_span_id=s.parent_span_id,
        name=s.name,
        span_type=s.span_type,
        attributes=_parsed(s.attributes),
        events=_parsed(s.events),
        input=_parsed(s.input),
        output=_parsed(s.output),
        error=_parsed(s.error),
        initial_state=_parsed(s.initial_state),
        final_state=_parsed(s.final_state),
        started_at=_time(s.started_at),
        ended_at=_time(s.ended_at),
    )


async def _status(request: Request, trace_id: str) -> str:
    """The trace's root run's status ("unknown" when no run has that id)."""
    row = await server_state(request).store.get_execution(str(uuid.UUID(hex=trace_id)))
    return row.status if row is not None else "unknown"


class TracesQuery(_Request):
    start_time: datetime | None = None
    end_time: datetime | None = None
    root_span_type: Text | None = None
    root_span_name: Text | None = None
    has_error: bool | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


def _summary_out(t: TraceSummary, status: str) -> TraceSummaryOut:
    ended = t.ended_at
    return TraceSummaryOut(
        trace_id=t.trace_id,
        root_span_type=t.root_span_type,
        root_span_name=t.root_span_name,
        started_at=_time(t.started_at),
        ended_at=_time(ended),
        duration_ms=None if ended is None else round((ended - t.started_at) * 1000),
        input=_parsed(t.input),
        output=_parsed(t.output),
        root_error=_parsed(t.error),
        status=status,
    )


async def list_traces(request: Request) -> Response:
    q = query(request, TracesQuery)
    found = await server_state(request).store.list_traces(
        started_after=None if q.start_time is None else _seconds(q.start_time),
        ended_before=None if q.end_time is None else _seconds(q.end_time),
        root_span_type=q.root_span_type,
        root_span_name=q.root_span_name,
        has_error=q.has_error,
        limit=q.limit,
        offset=q.offset,
    )
    traces = [_summary_out(t, await _status(request, t.trace_id)) for t in found]
    return json_response(TracesOut(traces=traces))


async def get_trace(request: Request) -> Response:
    raw = path_text(request, "trace_id")
    try:
        trace_id = _check_trace_id(raw.replace("-", ""))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    spans = await server_state(request).store.trace_spans(trace_id)
    if not spans:
        raise not_found(
            "trace",
            f"no spans are stored for trace {trace_id}; only SDK workers send spans here "
            "(ours export them over OTLP: see the run's /runs/{id}/trace page)",
        )
    roots = [s for s in spans if s.parent_span_id is None]
    ends = [s.ended_at for s in spans if s.ended_at is not None]
    return json_response(
        TraceOut(
            trace_id=trace_id,
            spans=[_span_out(s) for s in spans],
            trace_start_time=_time(min(s.started_at for s in spans)),
            trace_end_time=_time(max(ends) if ends else None),
            span_count=len(spans),
            error_count=sum(1 for s in spans if s.error is not None),
            root_span_name=roots[0].name if roots else None,
            status=await _status(request, trace_id),
        )
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/internal/spans/batch",
        store_spans,
        "Store spans exported by an SDK worker (a span sent again replaces the first)",
        "Traces",
        body=SpansBatch,
        response=Done,
        errors=(400, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/traces",
        list_traces,
        "Traces of SDK runs, latest ended first, one row per trace",
        "Traces",
        query=TracesQuery,
        response=TracesOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/traces/{trace_id}",
        get_trace,
        "Every span of one trace (the root run's id, with or without dashes)",
        "Traces",
        response=TraceOut,
        errors=(400, 404),
    ),
]
