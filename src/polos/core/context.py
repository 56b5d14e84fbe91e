"""``polos.core.context``: what a running workflow (or agent) receives as ``ctx``."""

from ..agents.context import AgentContext
from ..engine.context import WorkflowContext

__all__ = ["AgentContext", "WorkflowContext"]
