"""``polos.memory``: session memory settings, where Polos code imports them from.

Sessions and their compaction are implemented with the agents
(:mod:`polos.agents.memory`).
"""

from .types import CompactionConfig

__all__ = ["CompactionConfig"]
