"""The engine's tracing hook (:class:`polos.engine.tracing.Tracer`) as OpenTelemetry spans.

Span names follow Polos's: ``<kind>.<workflow id>`` for an attempt of a run
(``workflow.order``, ``agent.weather``, ``tool.get_weather``),
``step.<key>`` for a step that runs a function, and ``<step kind>.<key>`` for
the others (``wait.``, ``event.``, ``suspend.``, ``invoke.``, ``children.``).

Links: a run's span is the child of the span its trace context names (stored
with the run: the step of the parent run that started it, in whatever
process). A run started outside any trace is the root of a trace whose id is
its root execution id. Each attempt of a run (after a wait, a crash) is a span
of its own in the same trace, with ``polos.attempt``; steps replayed from the
store on a later attempt emit no span again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..engine.run import ExecutionRun
from ..engine.signals import Unwind
from ..engine.tracing import Tracer
from .ids import execution_trace_id, parse_traceparent
from .otel import RunTraceIds, provider_from_env, root_trace_id

_PROPAGATOR = TraceContextTextMapPropagator()
_SCOPE = "polos"


class OpenedSpan:
    """A span the engine opened, current in its task until ``end``."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.token = otel_context.attach(trace.set_span_in_context(span))

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            mark_error(self.span, error)
        self.span.end()
        otel_context.detach(self.token)


def mark_error(span: Span, error: BaseException) -> None:
    """A failure marks the span as an error; leaving to wait or on shutdown does not."""
    if isinstance(error, (Unwind, asyncio.CancelledError)):
        span.set_attribute("polos.unwound", type(error).__name__)
        return
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.record_exception(error)


class OtelTracer(Tracer):
    def __init__(self, provider: trace.TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(_SCOPE)
        # Our own provider makes a root run's trace id its execution id.
        self._own_ids = isinstance(provider, TracerProvider) and isinstance(
            provider.id_generator, RunTraceIds
        )

    def run_span(self, run: ExecutionRun) -> OpenedSpan:
        row = run.row
        kind = run.definition.kind
        root_id = row.root_execution_id or row.id
        attributes: dict[str, Any] = {
            "polos.workflow_id": row.workflow_id,
            "polos.workflow_type": kind,
            "polos.execution_id": row.id,
            "polos.root_execution_id": root_id,
            "polos.attempt": run.attempt,
            "polos.replayable_steps": len(run.recorded),
        }
        for key, value in (
            ("polos.parent_execution_id", row.parent_execution_id),
            ("polos.session_id", row.session_id),
            ("polos.user_id", row.user_id),
            ("polos.queue", row.queue_name),
        ):
            if value:
                attributes[key] = value
        if kind == "agent":
            attributes["gen_ai.operation.name"] = "invoke_agent"
            attributes["gen_ai.agent.name"] = row.workflow_id
            attributes["gen_ai.agent.id"] = row.workflow_id
        elif kind == "tool":
            attributes["gen_ai.operation.name"] = "execute_tool"
            attributes["gen_ai.tool.name"] = row.workflow_id
        parent = (
            _PROPAGATOR.extract({"traceparent": row.trace_context})
            if row.trace_context
            else otel_context.Context()  # a root: never under whatever the worker had current
        )
        wanted = execution_trace_id(root_id) if self._own_ids and not row.trace_context else None
        token = root_trace_id.set(wanted)
        try:
            span = self.tracer.start_span(
                f"{kind}.{row.workflow_id}", parent, attributes=attributes
            )
        finally:
            root_trace_id.reset(token)
        return OpenedSpan(span)

    def step_span(self, run: ExecutionRun, kind: str, step_key: str, name: str) -> OpenedSpan:
        attributes: dict[str, Any] = {
            "polos.step.key": step_key,
            "polos.step.kind": kind,
            "polos.execution_id": run.execution_id,
        }
        if name:
            attributes["polos.step.function"] = name
        prefix = "step" if kind == "run" else kind
        return OpenedSpan(self.tracer.start_span(f"{prefix}.{step_key}", attributes=attributes))

    def traceparent(self) -> str | None:
        return current_traceparent()

    def flush(self, timeout_seconds: float) -> None:
        """Export the spans still queued, waiting at most ``timeout_seconds``."""
        flush = getattr(self.provider, "force_flush", None)
        if flush is not None:
            flush(int(timeout_seconds * 1000))

    @contextmanager
    def custom_span(self, name: str, attributes: dict[str, Any] | None) -> Iterator[Span]:
        span = self.tracer.start_span(name, attributes=attributes or {})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        except BaseException as exc:
            mark_error(span, exc)
            raise
        finally:
            span.end()
            otel_context.detach(token)


@contextmanager
def caller_trace(traceparent: str | None) -> Iterator[None]:
    """Make the span ``traceparent`` names (a W3C traceparent another process sent,
    with a request) the current one, so that runs submitted inside join its trace
    exactly as a run invoked inside that span in this process would. A missing or
    invalid value changes nothing (the W3C rule: ignore what does not parse)."""
    if not traceparent or parse_traceparent(traceparent) is None:
        yield
        return
    token = otel_context.attach(_PROPAGATOR.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        otel_context.detach(token)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, if one is valid."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


_tracers: dict[int, OtelTracer] = {}


def tracer_from_env() -> OtelTracer | None:
    """The tracer workers give their runs, or None when tracing is off (see :mod:`.otel`)."""
    provider = provider_from_env()
    if provider is None:
        return None
    tracer = _tracers.get(id(provider))
    if tracer is None or tracer.provider is not provider:
        tracer = _tracers[id(provider)] = OtelTracer(provider)
    return tracer


def tracer_of(run: ExecutionRun | None) -> OtelTracer | None:
    """The OpenTelemetry tracer of ``run``, if it is traced."""
    tracer = None if run is None else run.tracer
    if tracer is None:
        # Most runs: isinstance against a class built on a Protocol goes through
        # typing's slow __instancecheck__ (4.5% of a fleet worker's CPU).
        return None
    return tracer if isinstance(tracer, OtelTracer) else None
