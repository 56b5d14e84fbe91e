"""``polos.tools``: tools for agents, where Polos code imports them from.

They are defined with the agents (:mod:`polos.agents.tools`).
"""

from .tool import Tool, ToolApproval, tool

__all__ = ["Tool", "ToolApproval", "tool"]
