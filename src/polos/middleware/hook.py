"""``polos.middleware.hook``: lifecycle hooks (see :mod:`polos.agents.hooks`)."""

from ..agents.hooks import HookAction, HookContext, HookResult, hook

__all__ = ["HookAction", "HookContext", "HookResult", "hook"]
