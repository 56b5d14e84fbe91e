"""``polos.features.tracing``: the span a workflow is inside (``ctx.step.trace``)."""

from ..engine.tracing import Span, get_current_span

__all__ = ["Span", "get_current_span"]
