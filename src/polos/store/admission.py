"""Admission: which queued executions may start now, given queue limits.

Pure logic shared by every backend, which calls it inside the claiming
transaction (holding whatever lock makes the counts it passes current).
Candidates arrive in priority order (higher first, FIFO within a priority);
the picker takes them in that order, skipping those whose queue and
concurrency key are at their concurrency limit or out of rate-limit budget.
Only first starts count against a rate limit; every running execution
counts against a concurrency limit (a waiting one does not).

A backend runs the SQL; this module decides what to ask for and what to
make of the answers: which rate windows to count (:func:`rate_windows`),
which pages of candidates to read (:meth:`Admission.scan`) and which starts
to record (:attr:`Admission.first_starts`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .records import QueueRow

Group = tuple[str, str]  # (queue name, concurrency key)

#: Admission reads queued candidates in pages of this many...
PAGE = 256
#: ...and gives up after this many in one claim: a queue whose head is all
#: blocked keys must not make every claim read the whole queue.
MAX_SCANNED = 8192
#: A run starts a few milliseconds after its claim commits (longer on a busy
#: host), so rate windows count starts this much longer than their period:
#: the limit then holds for the starts users observe, at a negligible cost.
#: Every backend applies it: the lag is between the commit and the user's
#: code, whatever the database.
RATE_MARGIN = 0.05


def queues_served(workflow_ids: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """The queue of each workflow a claim serves: as given, or named after the
    workflow (``claim`` takes either a list of ids or an id-to-queue mapping)."""
    if isinstance(workflow_ids, Mapping):
        return dict(workflow_ids)
    return {workflow_id: workflow_id for workflow_id in workflow_ids}


def admission_time(now: float, began: float) -> float:
    """The time to count rate windows at: the caller's ``now``, moved on by
    however long the claim waited (for a lock, a pool connection, a busy
    file) since ``time.monotonic()`` read ``began``, so that a start is
    recorded when it really happens."""
    return now + max(0.0, time.monotonic() - began)


def rate_windows(queues: Mapping[str, QueueRow], now: float) -> list[tuple[str, float]]:
    """``(queue name, window start)`` for each rate-limited queue: the starts
    after the window start count against its limit, older ones may be pruned."""
    return [
        (queue.name, now - queue.rate_period - RATE_MARGIN)
        for queue in queues.values()
        if queue.rate_limit is not None and queue.rate_period is not None
    ]


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
        running: Iterable[tuple[str, str, int]],
        recent_starts: Mapping[Group, int] | None = None,
    ) -> None:
        """``running``: ``(queue name, concurrency key, count)`` rows."""
        self.queues = queues
        self.running: dict[Group, int] = {(q, k): n for q, k, n in running}
        self.starts: dict[Group, int] = dict(recent_starts or {})
        self.first_starts: list[Group] = []

    def count_starts(self, queue_name: str, rows: Iterable[tuple[str, int]]) -> None:
        """Take one queue's ``(concurrency key, starts in its window)`` rows."""
        for key, n in rows:
            self.starts[(queue_name, key)] = n

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

    def scan(self, limit: int) -> Scan:
        """Pick up to ``limit`` candidates page by page (see :class:`Scan`)."""
        return Scan(self, limit)


class Scan:
    """Reading candidates a page at a time, synchronously or not::

        scan = admission.scan(limit)
        for offset, size in scan:
            scan.take(rows of admission_candidates LIMIT size OFFSET offset)
        scan.picked

    Iterating yields the next page to read until enough are picked, a short
    page shows the queue's end, or :data:`MAX_SCANNED` were read.
    """

    def __init__(self, admission: Admission, limit: int) -> None:
        self.admission = admission
        self.limit = limit
        self.picked: list[str] = []
        self._last_page = PAGE

    def __iter__(self) -> Iterator[tuple[int, int]]:
        offset = 0
        while len(self.picked) < self.limit and offset < MAX_SCANNED:
            yield offset, PAGE
            if self._last_page < PAGE:
                return
            offset += PAGE

    def take(self, rows: Sequence[Sequence[Any]]) -> None:
        """One page of ``(id, queue_name, concurrency_key, attempt)`` rows."""
        self._last_page = len(rows)
        page = [Candidate(*row) for row in rows]
        self.picked += self.admission.pick(page, self.limit - len(self.picked))
