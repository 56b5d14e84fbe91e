"""What a purge of finished run trees reports (see ``Store.purge_finished``)."""

from __future__ import annotations

from dataclasses import dataclass

from .vocabulary import FINAL_STATUSES

#: The statuses a purge may take a root in: finished ones only.
PURGEABLE = frozenset(str(s) for s in FINAL_STATUSES)


@dataclass(frozen=True, slots=True)
class PurgeCount:
    """Rows a purge removed (or, for a dry run, would remove)."""

    #: Run trees: each root with every run under it.
    trees: int = 0
    executions: int = 0
    steps: int = 0
    history: int = 0
    events: int = 0

    def __add__(self, other: PurgeCount) -> PurgeCount:
        return PurgeCount(
            self.trees + other.trees,
            self.executions + other.executions,
            self.steps + other.steps,
            self.history + other.history,
            self.events + other.events,
        )


def check_statuses(statuses: object) -> list[str]:
    """The statuses as a list, refusing any that is not a finished one."""
    if isinstance(statuses, str) or not hasattr(statuses, "__iter__"):
        raise TypeError(f"statuses must be a collection of status names, got {statuses!r}")
    found = [str(s) for s in statuses]
    wrong = [s for s in found if s not in PURGEABLE]
    if wrong or not found:
        raise ValueError(
            f"cannot purge runs with status {', '.join(map(repr, wrong)) or '(none given)'}: "
            f"only finished runs are purged; use any of {', '.join(sorted(PURGEABLE))}"
        )
    return sorted(set(found))
