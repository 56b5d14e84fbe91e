"""Observability on top of the engine: OpenTelemetry spans and structured logs.

- :mod:`.otel`: when spans are exported (the ``OTEL_*`` variables) and the
  tracer provider that exports them;
- :mod:`.tracing`: the engine's tracing hook, made of OpenTelemetry spans;
- :mod:`.genai`: spans of LLM calls, tools and guardrails (GenAI conventions);
- :mod:`.logs`: the worker's log lines, as text or JSON.
"""

from .otel import tracing_enabled
from .tracing import OtelTracer, tracer_from_env

__all__ = ["OtelTracer", "tracer_from_env", "tracing_enabled"]
