"""``polos.middleware.guardrail``: guardrails (see :mod:`polos.agents.guardrails`)."""

from ..agents.guardrails import GuardrailContext, GuardrailResult, guardrail

__all__ = ["GuardrailContext", "GuardrailResult", "guardrail"]
