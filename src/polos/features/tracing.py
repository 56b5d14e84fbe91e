"""``polos.features.tracing``: the span a workflow is inside (``ctx.step.trace``)."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from ..engine import tracing as _engine
from ..engine.tracing import Span


def get_current_span() -> Any:
    """The innermost span open here: the OpenTelemetry span when tracing is on
    (a step's, a ``ctx.step.trace``'s), else the untraced ``ctx.step.trace`` span
    open in this task, else None."""
    current = trace.get_current_span()
    if current.get_span_context().is_valid:
        return current
    return _engine.get_current_span()


__all__ = ["Span", "get_current_span"]
