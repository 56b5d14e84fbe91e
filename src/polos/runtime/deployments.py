"""Which deployments the live workers serve: is a run's code version served?

A run is pinned to the deployment it started on (:mod:`polos.store.deployments`)
and only a worker of that deployment, or one told to serve it too, takes it
again. A queued or waiting run whose deployment no live worker serves will not
move until one starts, so clients, the CLI and the server say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..store.base import Store
from ..store.deployments import ANY_DEPLOYMENT
from ..store.records import ExecutionRow, WorkerRow
from ..store.vocabulary import Status
from .liveness import provably_dead

#: A worker heartbeats every third of its lease (10 s by default); one silent
#: for longer than this is taken for gone (a clean stop removes it at once).
LIVE_WITHIN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ServedDeployments:
    """The deployments the live workers serve, as of one look at the workers."""

    deployments: frozenset[str]
    any: bool = False

    def serves(self, deployment_id: str) -> bool:
        return self.any or deployment_id in self.deployments


def served_deployments(workers: Iterable[WorkerRow], now: float) -> ServedDeployments:
    served: set[str] = set()
    for worker in workers:
        if now - worker.heartbeat_at > LIVE_WITHIN_SECONDS:
            continue
        if provably_dead(worker.hostname, worker.pid):
            continue
        if worker.deployment_id is not None:
            served.add(worker.deployment_id)
        served.update(worker.serve_deployments)
    return ServedDeployments(frozenset(served - {ANY_DEPLOYMENT}), ANY_DEPLOYMENT in served)


async def served_for(
    store: Store, rows: Iterable[ExecutionRow], now: float
) -> ServedDeployments | None:
    """The deployments live workers serve, read only when one of ``rows`` needs it."""
    if not any(needs_a_worker(row) for row in rows):
        return None
    return served_deployments(await store.list_workers(), now)


def needs_a_worker(row: ExecutionRow) -> bool:
    """Whether the run waits for a worker of its deployment: queued or waiting,
    and pinned to one (an unpinned run goes to whichever worker claims it)."""
    return row.deployment_id is not None and row.status in (Status.QUEUED, Status.WAITING)


def deployment_served(row: ExecutionRow, served: ServedDeployments | None) -> bool | None:
    """True or False for a run that needs a worker of its deployment, else None."""
    if served is None or row.deployment_id is None or not needs_a_worker(row):
        return None
    return served.serves(row.deployment_id)
