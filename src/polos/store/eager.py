"""Eager start: a run inserted already claimed by the worker that submits it.

A process whose own worker serves a workflow and has a free slot need not
queue a new run and then claim it back: ``Store.create_and_claim`` inserts
the run as ``running`` under that worker's lease, with the attempt (the
fencing token) a claim would have given it (1), in the transaction that
creates it; the worker starts it at once. Its ``claimed`` history entry
says so (``"eager": true`` beside the owner). Nothing else changes: the lease
is renewed by heartbeats and, if the worker dies, expires like any other,
so another worker claims the run again and replays it.

The store, in that same transaction, falls back to the plain queued insert
for every run whose start could break a rule a claim enforces:

* its queue is unknown (``""``) or has a concurrency or rate limit (the
  admission of :mod:`.admission` then decides, under its lock);
* a run of the same workflow is already queued (it was there first: claims
  take runs in priority and creation order);
* its idempotency key was used before (nothing is inserted).

The caller decides the rest, because only it knows its worker: which runs
that worker serves (workflow and deployment) and how many slots it can
give. See ``Worker.create_executions``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from .records import Claimed


@dataclass(frozen=True, slots=True)
class EagerClaim:
    """Who takes the runs that may start at once, and which ones may."""

    worker_id: str
    now: float
    lease_seconds: float
    #: Ids of the new runs the worker serves and has a slot for.
    eligible: Collection[str]
    #: Stamped on an unpinned run it takes (the worker's deployment), as a claim does.
    deployment_id: str | None = None
    #: Of a resume's ``eligible`` (``complete_and_resume``), the runs the worker does
    #: not hold in memory: taken, they come back with their recorded steps, to replay.
    #: Only for a store whose ``resumes_with_steps`` says it loads them.
    replays: Collection[str] = ()


@dataclass(slots=True)
class Created:
    """What ``create_and_claim`` did: each run's id, and the runs it claimed."""

    ids: list[str]
    claimed: list[Claimed] = field(default_factory=list)


@dataclass(slots=True)
class Started:
    """What ``start_children`` did: refused by its fence or not (its truth), and
    the children it took at once for ``claim.worker_id`` (with a ``claim``)."""

    accepted: bool
    claimed: list[Claimed] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.accepted
