"""``polos.types.types``: the data types Polos code imports from this path.

Workflow-side types live in :mod:`polos.types`; the agent records (``Usage``,
``ToolCall``, ``Step``, ``AgentResult``, ...) live with the agents and are
looked up on first use, because the agents package itself imports
:mod:`polos.types` (a plain import here would be circular).
"""

from __future__ import annotations

import importlib
from typing import Any

from . import BatchStepResult, BatchWorkflowInput

#: Agent-side names -> the module that defines them.
_AGENT_NAMES = {
    "AgentConfig": "polos.agents",
    "AgentResult": "polos.agents",
    "Step": "polos.agents",
    "ToolCall": "polos.agents",
    "ToolCallFunction": "polos.agents",
    "ToolResult": "polos.agents",
    "Usage": "polos.agents",
}

__all__ = ["BatchStepResult", "BatchWorkflowInput", *_AGENT_NAMES]


def __getattr__(name: str) -> Any:
    module = _AGENT_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
