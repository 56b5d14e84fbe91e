"""Admission: which queued executions may start now, given queue limits.

Pure logic shared by every backend, which calls it inside the claiming
transaction (holding whatever lock makes the counts it passes current).
Candidates arrive in priority order (higher first, FIFO within a priority);
the picker takes them in that order, skipping those whose queue and
concurrency key are at their concurrency limit or out of rate-limit budget.
Only first starts count against a rate limit; every running execution
counts against a concurrency limit (a waiting one does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .records import QueueRow

Group = tuple[str, str]  # (queue name, concurrency key)


@dataclass(slots=True)
class Candidate:
    id: str
    queue_name: str
    concurrency_key: str
    attempt: int

    @property
    def group(self) -> Group:
        return (self.queue_name, self.concurrency_key)


class Admission:
    """Counts for one claim; ``admit`` decides candidate by candidate."""

    def __init__(
        self,
        queues: Mapping[str, QueueRow],
        running: Mapping[Group, int],
        recent_starts: Mapping[Group, int],
    ) -> None:
        self.queues = queues
        self.running = dict(running)
        self.starts = dict(recent_starts)
        self.first_starts: list[Group] = []

    def admit(self, candidate: Candidate) -> bool:
        queue = self.queues.get(candidate.queue_name)
        group = candidate.group
        if queue is None:
            return True
        if (
            queue.concurrency_limit is not None
            and self.running.get(group, 0) >= queue.concurrency_limit
        ):
            return False
        first_start = candidate.attempt == 0
        if (
            first_start
            and queue.rate_limit is not None
            and self.starts.get(group, 0) >= queue.rate_limit
        ):
            return False
        self.running[group] = self.running.get(group, 0) + 1
        if first_start and queue.rate_limit is not None:
            self.starts[group] = self.starts.get(group, 0) + 1
            self.first_starts.append(group)
        return True

    def pick(self, candidates: Iterable[Candidate], limit: int) -> list[str]:
        picked: list[str] = []
        for candidate in candidates:
            if len(picked) >= limit:
                break
            if self.admit(candidate):
                picked.append(candidate.id)
        return picked
