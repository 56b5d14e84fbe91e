"""Errors of agent runs."""

from __future__ import annotations

from ..errors import PolosError


class AgentError(PolosError):
    """An agent could not produce an acceptable answer (guardrail, schema, hook)."""


class HookFailedError(AgentError):
    """A hook returned ``HookResult.fail(message)``: the run (or tool run) stops with it."""

    def __init__(self, message: str, point: str = "") -> None:
        self.point = point
        super().__init__(message)
