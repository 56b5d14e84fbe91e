"""What a purge of finished run trees reports (see ``Store.purge_finished``)."""

from __future__ import annotations

from dataclasses import dataclass

from .vocabulary import FINAL_STATUSES

#: The statuses a purge may take a root in: finished ones only.
PURGEABLE = frozenset(str(s) for s in FINAL_STATUSES)


@dataclass(frozen=True, slots=True)
class PurgeCount:
    """Rows a purge removed, or for a dry run would remove (a dry run counts
    trees and runs only: steps, history and events are None, not counted)."""

    #: Run trees: each root with every run under it.
    trees: int = 0
    executions: int = 0
    steps: int | None = 0
    history: int | None = 0
    events: int | None = 0

    def __add__(self, other: PurgeCount) -> PurgeCount:
        return PurgeCount(
            self.trees + other.trees,
            self.executions + other.executions,
            _plus(self.steps, other.steps),
            _plus(self.history, other.history),
            _plus(self.events, other.events),
        )


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


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
