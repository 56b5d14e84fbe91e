"""``polos.memory.types``: ``CompactionConfig`` (see :mod:`polos.agents.memory`)."""

from ..agents.memory import CompactionConfig

__all__ = ["CompactionConfig"]
