"""``polos.tools.tool``: the ``Tool`` class and ``@tool`` (see :mod:`polos.agents.tools`)."""

from ..agents.tools import Tool, ToolApproval, tool

__all__ = ["Tool", "ToolApproval", "tool"]
