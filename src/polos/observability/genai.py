"""Spans of an agent's decisions, in OpenTelemetry's GenAI semantic conventions.

An LLM call is a ``chat <model>`` client span inside the step that records
it (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.response.id``,
``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
``output_tokens``); a guardrail check is a ``guardrail <name>`` span. Tool
calls are child runs: their run spans say ``execute_tool`` (see
:mod:`.tracing`). All of these exist only while the step runs, so a replay
emits none of them again. Untraced runs pay one attribute test.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from ..engine.run import ExecutionRun
from .tracing import mark_error, tracer_of


class LLMCall:
    """The span of one LLM call, told what came back."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def answered(
        self,
        *,
        model: str,
        response_id: str,
        finish_reason: str,
        input_tokens: int,
        output_tokens: int,
        tool_calls: Sequence[str] = (),
    ) -> None:
        span = self.span
        if model:
            span.set_attribute("gen_ai.response.model", model)
        if response_id:
            span.set_attribute("gen_ai.response.id", response_id)
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        if tool_calls:
            span.set_attribute("polos.llm.tool_calls", list(tool_calls))


@contextmanager
def llm_call(
    run: ExecutionRun | None,
    *,
    provider: str,
    model: str,
    operation: str = "chat",
    request: dict[str, Any] | None = None,
) -> Iterator[LLMCall | None]:
    """A span around one call to ``provider`` (yields None when the run is untraced).

    ``request`` holds the request's settings by their GenAI names without the
    ``gen_ai.request.`` prefix (``temperature``, ``max_tokens``, ``top_p``);
    None values are left out.
    """
    tracer = tracer_of(run)
    if tracer is None:
        yield None
        return
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": _provider_system(provider),
        "gen_ai.request.model": model,
        "polos.llm.provider": provider,
    }
    for key, value in (request or {}).items():
        if value is not None:
            attributes[f"gen_ai.request.{key}"] = value
    span = tracer.tracer.start_span(
        f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes
    )
    with _current(span):
        yield LLMCall(span)


def agent_totals(
    run: ExecutionRun | None,
    *,
    input_tokens: int,
    output_tokens: int,
    llm_calls: int,
    stop_reason: str | None,
    cost: float | None,
) -> None:
    """An agent's totals, on the run span of the attempt that finishes it."""
    if tracer_of(run) is None:
        return
    span = trace.get_current_span()  # the agent's run span: this runs outside any step
    if not span.is_recording():
        return
    span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    span.set_attribute("polos.agent.llm_calls", llm_calls)
    if stop_reason:
        span.set_attribute("polos.agent.stop_reason", stop_reason)
    if cost is not None:
        span.set_attribute("polos.agent.cost", cost)


@contextmanager
def guardrail(run: ExecutionRun | None, step_key: str, name: str) -> Iterator[Span | None]:
    """A span around a guardrail check that runs now (none when it replays)."""
    tracer = tracer_of(run)
    if tracer is None or run is None or run.is_recorded(step_key):
        yield None
        return
    span = tracer.tracer.start_span(
        f"guardrail {name}",
        attributes={"polos.guardrail.name": name, "polos.step.key": step_key},
    )
    with _current(span):
        yield span


@contextmanager
def _current(span: Span) -> Iterator[None]:
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    except BaseException as exc:
        mark_error(span, exc)
        raise
    finally:
        span.end()
        otel_context.detach(token)


def _provider_system(adapter: str) -> str:
    """``openai-chat`` -> ``openai``: the GenAI name of the provider behind an adapter."""
    return adapter.split("-", 1)[0].lower() or adapter
