"""``polos.middleware``: hooks and guardrails, where Polos code imports them from.

They are defined with the agents (:mod:`polos.agents.hooks`,
:mod:`polos.agents.guardrails`).
"""

from .guardrail import GuardrailContext, GuardrailResult, guardrail
from .hook import HookAction, HookContext, HookResult, hook

__all__ = [
    "GuardrailContext",
    "GuardrailResult",
    "HookAction",
    "HookContext",
    "HookResult",
    "guardrail",
    "hook",
]
