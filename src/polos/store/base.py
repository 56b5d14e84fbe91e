"""The one narrow interface over all durable state.

Every method is one state transition and runs as ONE transaction in the
backend. Methods that write on behalf of a worker take the execution's
``attempt`` and are fenced: they return ``False`` (and change nothing) when
that attempt is no longer the current owner of a running execution, so a
zombie worker can never record a step or finish an execution.
Nothing above this layer issues SQL.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from .hub import Hub
from .records import Claimed, ExecutionRow, HistoryRow, NewExecution, StepRow, WorkerRow


class Store(abc.ABC):
    #: In-process signals for this database (see :mod:`polos.store.hub`).
    hub: Hub
    #: Short human-readable name of the database, for logs and errors.
    description: str

    # lifecycle ------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # submitting -----------------------------------------------------------
    @abc.abstractmethod
    async def create_execution(self, new: NewExecution) -> None:
        """Insert a ``queued`` execution and its ``created`` history entry."""

    # claiming and leases --------------------------------------------------
    @abc.abstractmethod
    async def claim(
        self,
        worker_id: str,
        workflow_ids: Sequence[str],
        limit: int,
        now: float,
        lease_seconds: float,
    ) -> list[Claimed]:
        """Move up to ``limit`` queued executions to ``running`` for this worker.

        Each claim increments the attempt number; the recorded steps of
        each claimed execution come back with it (one query for all).
        """

    @abc.abstractmethod
    async def heartbeat(
        self,
        worker_id: str,
        leases: Sequence[tuple[str, int]],
        now: float,
        lease_seconds: float,
    ) -> set[str]:
        """Renew the worker's liveness and the leases it still holds.

        Returns the ids among ``leases`` that this worker no longer owns
        (taken over, cancelled or finished elsewhere).
        """

    @abc.abstractmethod
    async def release_execution(self, execution_id: str, attempt: int, now: float) -> bool:
        """Hand a running execution back to the queue (graceful shutdown)."""

    @abc.abstractmethod
    async def requeue_expired_leases(self, now: float) -> int:
        """Put running executions whose lease expired back in the queue."""

    @abc.abstractmethod
    async def requeue_worker(self, worker_id: str, now: float) -> int:
        """Requeue every execution a worker known to be dead was running and forget it."""

    # steps, waits and outcomes (all fenced) ------------------------------
    @abc.abstractmethod
    async def record_step(self, execution_id: str, attempt: int, step: StepRow) -> bool: ...

    @abc.abstractmethod
    async def begin_wait(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: str,
        wake_at: float | None,
        now: float,
    ) -> bool:
        """Park a running execution as ``waiting`` on one of its steps."""

    @abc.abstractmethod
    async def complete_execution(
        self, execution_id: str, attempt: int, result: str, now: float
    ) -> bool: ...

    @abc.abstractmethod
    async def fail_execution(
        self, execution_id: str, attempt: int, error: str, now: float
    ) -> bool: ...

    @abc.abstractmethod
    async def add_history(
        self, execution_id: str, attempt: int, event: str, detail: str | None, now: float
    ) -> None:
        """Append a free-form entry (a step retry, for instance) to the history."""

    # timers ---------------------------------------------------------------
    @abc.abstractmethod
    async def fire_due_timers(self, now: float) -> int:
        """Resolve every timer wait due by ``now``: record its step and requeue."""

    @abc.abstractmethod
    async def next_timer_at(self) -> float | None: ...

    # cancellation -----------------------------------------------------------
    @abc.abstractmethod
    async def cancel_execution(self, execution_id: str, now: float) -> ExecutionRow | None:
        """Cancel a queued, waiting or running execution; returns the row after.

        A running execution is marked ``cancelled`` at once; its worker's
        next fenced write is refused, so it stops at its next step boundary.
        Returns ``None`` when the id is unknown.
        """

    # workers ------------------------------------------------------------------
    @abc.abstractmethod
    async def register_worker(self, worker: WorkerRow) -> None: ...

    @abc.abstractmethod
    async def unregister_worker(self, worker_id: str) -> None: ...

    @abc.abstractmethod
    async def list_workers(self) -> list[WorkerRow]: ...

    # reading ------------------------------------------------------------------
    @abc.abstractmethod
    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    @abc.abstractmethod
    async def get_executions(self, execution_ids: Sequence[str]) -> list[ExecutionRow]: ...

    @abc.abstractmethod
    async def list_steps(self, execution_id: str) -> list[StepRow]: ...

    @abc.abstractmethod
    async def list_history(self, execution_id: str) -> list[HistoryRow]: ...

    @abc.abstractmethod
    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRow]:
        """Newest first."""
