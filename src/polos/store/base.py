"""The one narrow interface over all durable state.

Every method is one state transition and runs as ONE transaction in the
backend. Methods that write on behalf of a worker take the execution's
``attempt`` and are fenced: they return ``False`` (and change nothing) when
that attempt is no longer the current owner of a running execution, so a
zombie worker can never record a step or finish an execution.
Nothing above this layer issues SQL.

Every backend must also wake this process's waiters: right after a
transaction commits, and before the method returns, it fires the matching
signal on ``hub`` (work queued, a new wake-up time, events published, an
execution finished or cancelled), because workers and clients in this
process sleep on the hub between polls. Never before the commit (a waiter
would look and find nothing) and never only through the database's own
notifications. The shared contract tests in ``tests/store/`` check every
method, this duty included, on every backend.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence

from .api_keys import ApiKeyRow
from .eager import Created, EagerClaim, Started
from .hub import Hub
from .records import (
    Claimed,
    EventRow,
    ExecutionRow,
    HeldRun,
    HistoryRow,
    NewEvent,
    NewExecution,
    QueueCount,
    QueueRow,
    RetryOutcome,
    ScheduleRow,
    ServedWorkflow,
    StepRow,
    TopicRow,
    TriggerRow,
    WaitResult,
    WorkerRow,
)
from .retention import PurgeCount
from .spans import SpanRow, TraceSummary
from .vocabulary import HistoryEvent, WaitKind


class Store(abc.ABC):
    #: In-process signals for this database (see :mod:`polos.store.hub`).
    hub: Hub
    #: Short human-readable name of the database, for logs and errors.
    description: str

    @property
    def finishes_signalled(self) -> bool:
        """Whether every run's end, in any process, reaches this process's
        ``hub`` as a signal right now (PostgreSQL: while its LISTEN connection
        is up). A waiter then polls only as a safety net; when it is lost or
        back, the store wakes every waiter on ``hub`` to read its run again."""
        return False

    #: Whether ``complete_and_resume`` takes the runs of ``resume.replays`` (waiting
    #: runs the worker does not hold) and returns them with their recorded steps.
    #: A store without it is never asked to (they are requeued and claimed).
    resumes_with_steps: bool = False

    # lifecycle ------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def warm(self, connections: int) -> None:
        """Open now, best effort, up to ``connections`` database connections that
        concurrent operations will need (a worker about to serve calls this, so
        its first run does not wait for connects and logins). Stores without
        connections to open do nothing."""
        return

    # submitting -----------------------------------------------------------
    @abc.abstractmethod
    async def create_execution(self, new: NewExecution) -> str:
        """Insert a ``queued`` execution and its ``created`` history entry; returns its id."""

    @abc.abstractmethod
    async def create_executions(self, news: Sequence[NewExecution]) -> list[str]:
        """Insert several ``queued`` executions in one transaction.

        Returns their ids in order. An execution whose ``idempotency_key`` is
        already used is not inserted: the existing execution's id comes back.
        """

    @abc.abstractmethod
    async def create_and_claim(self, news: Sequence[NewExecution], claim: EagerClaim) -> Created:
        """``create_executions``, in one transaction, taking at once for
        ``claim.worker_id`` the runs of ``claim.eligible`` that may start now.

        A run taken is inserted ``running``: owner, lease until ``claim.now +
        claim.lease_seconds``, attempt 1, started and deadline set, event
        cursor stored, ``created`` then ``claimed`` in its history, exactly as
        a claim right after its creation would leave it (its steps: none).
        The others are queued as ``create_executions`` queues them; see
        :mod:`polos.store.eager` for which runs fall back. Returns every
        run's id in order and the runs taken, in order.
        """

    # claiming and leases --------------------------------------------------
    @abc.abstractmethod
    async def claim(
        self,
        worker_id: str,
        workflow_ids: Sequence[str] | Mapping[str, str],
        limit: int,
        now: float,
        lease_seconds: float,
        *,
        skip_steps_for: Collection[str] = (),
        deployment_id: str | None = None,
        serve_deployments: Collection[str] = (),
    ) -> list[Claimed]:
        """Move up to ``limit`` queued executions to ``running`` for this worker.

        With ``deployment_id`` (the worker's code version) only executions
        pinned to it or to one of ``serve_deployments`` (``"*"``: any) are
        claimed, and one not pinned yet is pinned to ``deployment_id`` (see
        :mod:`polos.store.deployments`); without it every deployment is served.

        Executions in ``skip_steps_for`` come back without their steps: the
        worker still holds them in memory (see ``ExecutionRun._after_park``).

        ``workflow_ids`` are the workflows this worker runs, or a mapping from
        each to its queue: queued executions of those workflows whose queue
        was left unassigned (their submitter did not know the workflow) get
        that queue first. Admission then applies queue limits (see
        :mod:`polos.store.admission`) in priority order. Each claim increments
        the attempt number; the recorded steps of each claimed execution come
        back with it (one query for all).
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

    @abc.abstractmethod
    async def runs_held_by(self, owners: Collection[str]) -> list[HeldRun]:
        """The ``running`` executions whose owner is one of ``owners``.

        Read on the index of running executions by owner, so its cost grows with
        the runs those workers hold, not with every run in flight (the server
        asks this for its SDK workers while our own workers run thousands).
        """

    # steps, waits and outcomes (all fenced) ------------------------------
    @abc.abstractmethod
    async def record_step(self, execution_id: str, attempt: int, step: StepRow) -> bool: ...

    @abc.abstractmethod
    async def begin_wait(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: WaitKind,
        wake_at: float | None,
        now: float,
        *,
        state: str | None = None,
    ) -> bool:
        """Park a running execution as ``waiting`` on one of its steps (a timer).

        ``state`` (a workflow state snapshot) is saved on the execution.
        """

    @abc.abstractmethod
    async def wait_for_event(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: WaitKind,
        topic: str,
        cursor: int,
        wake_at: float | None,
        data: str | None,
        now: float,
        *,
        state: str | None = None,
    ) -> WaitResult:
        """Wait for the first event on ``topic`` with a sequence id above ``cursor``.

        If one is already there, record it as the step's output at once;
        else park the execution (``wake_at`` is the timeout, ``data`` what a
        suspend shows). Checking and parking are atomic with publishing, so
        no event can slip between them.
        """

    @abc.abstractmethod
    async def start_children(
        self,
        parent_id: str,
        attempt: int,
        step_key: str,
        children: Sequence[NewExecution],
        *,
        wait: bool,
        output: str | None,
        now: float,
        state: str | None = None,
        wake_at: float | None = None,
        claim: EagerClaim | None = None,
        steps: Sequence[StepRow] = (),
    ) -> Started:
        """Create child executions for a parent's step, in one transaction.

        ``steps`` are earlier steps of the parent recorded in the same
        transaction, under the same fence (a step the run deferred to ride
        here, see ``ExecutionRun.run_step``): they commit with the children or
        not at all.

        Returns whether the parent's fence let it in (the result's truth);
        with ``claim`` the children that may start at once are taken for
        ``claim.worker_id`` as ``create_and_claim`` takes them, and come back.

        ``wake_at`` bounds the wait: then the step fails with a timeout error
        (the children go on).

        With ``wait`` the parent parks until the last child ends: that child's
        ending records the step's output (every child's outcome, in order) and
        requeues the parent, atomically. Without it the step is recorded with
        ``output`` (the handles) at once.
        """

    @abc.abstractmethod
    async def complete_execution(
        self, execution_id: str, attempt: int, result: str, now: float, *, state: str | None = None
    ) -> bool: ...

    async def complete_and_resume(
        self,
        execution_id: str,
        attempt: int,
        result: str,
        now: float,
        *,
        state: str | None = None,
        resume: EagerClaim,
    ) -> Started:
        """``complete_execution``; when that requeues a parent in ``resume.eligible``
        (its last child ended), the parent may be claimed for ``resume.worker_id``
        in the same transaction, as a claim would (not on a queue with limits:
        admission decides those), and comes back with no steps but, optionally, the
        outcome of the wait this ended, as stored (its worker holds it in memory
        and would otherwise read that one step back), or, if it is one of
        ``resume.replays`` (a store with ``resumes_with_steps``), with every step
        recorded, read in that transaction (its worker replays it). The truth of
        the result is the completion's.

        This default takes nothing: the parent is requeued and claimed as usual."""
        return Started(
            await self.complete_execution(execution_id, attempt, result, now, state=state)
        )

    @abc.abstractmethod
    async def fail_execution(
        self, execution_id: str, attempt: int, error: str, now: float, *, state: str | None = None
    ) -> bool: ...

    @abc.abstractmethod
    async def add_history(
        self, execution_id: str, attempt: int, event: HistoryEvent, detail: str | None, now: float
    ) -> None:
        """Append a free-form entry (a step retry, for instance) to the history."""

    # events ---------------------------------------------------------------
    @abc.abstractmethod
    async def publish_events(
        self,
        events: Sequence[NewEvent],
        now: float,
        *,
        step: tuple[str, int, StepRow] | None = None,
    ) -> list[EventRow] | None:
        """Append events and resolve the waits they satisfy, in one transaction.

        With ``step`` (execution id, attempt, step row) the publishing step is
        recorded in the same transaction, fenced: ``None`` means refused.
        """

    @abc.abstractmethod
    async def read_events(self, topic: str, after_seq: int, limit: int = 100) -> list[EventRow]: ...

    @abc.abstractmethod
    async def topic_position(self, topic: str, published_by: float | None = None) -> int:
        """Where a reader of ``topic`` that wants nothing older starts: the sequence id
        of its last event (0 if none), or with ``published_by`` of the last event
        before the first one published after that time."""

    @abc.abstractmethod
    async def list_topics(self, limit: int = 100) -> list[TopicRow]:
        """The topics that hold events, the most recently published to first."""

    @abc.abstractmethod
    async def fire_due_timers(self, now: float) -> int:
        """Resolve every wait due by ``now``: a timer with ``null``, any other
        wait with a timeout error; record the step and requeue."""

    @abc.abstractmethod
    async def expire_deadlines(self, now: float) -> int:
        """Fail executions past their ``run_timeout_seconds`` (cancelling their children)."""

    @abc.abstractmethod
    async def next_timer_at(self) -> float | None:
        """The earliest time something is due: a wait, a deadline or a schedule tick."""

    # schedules ---------------------------------------------------------------
    @abc.abstractmethod
    async def upsert_schedule(self, schedule: ScheduleRow) -> ScheduleRow:
        """Create or update; an unchanged cron keeps its next tick."""

    @abc.abstractmethod
    async def list_schedules(self, workflow_id: str | None = None) -> list[ScheduleRow]: ...

    @abc.abstractmethod
    async def delete_schedule(self, schedule_id: str) -> bool: ...

    @abc.abstractmethod
    async def due_schedules(self, now: float) -> list[ScheduleRow]: ...

    @abc.abstractmethod
    async def fire_schedule(
        self,
        schedule_id: str,
        expected_next_fire_at: float,
        next_fire_at: float,
        fired_at: float | None,
        execution: NewExecution | None,
        now: float,
        *,
        skip_if_active: bool = True,
    ) -> bool:
        """Advance a schedule and start its run, only if no one else did (exactly once).

        With ``skip_if_active`` no run starts while an earlier run of the same
        schedule is still queued, running or waiting (the tick is skipped).
        """

    # queues ----------------------------------------------------------------
    @abc.abstractmethod
    async def upsert_queue(self, queue: QueueRow) -> None: ...

    @abc.abstractmethod
    async def list_queues(self) -> list[QueueRow]: ...

    @abc.abstractmethod
    async def queue_counts(self, max_keys: int | None = None) -> list[QueueCount]:
        """Active executions counted per queue and status, and per concurrency key
        for at most ``max_keys`` keys of each queue (those with the most active
        executions; all when None). One pass over the active executions."""

    # event triggers ------------------------------------------------------------
    @abc.abstractmethod
    async def upsert_trigger(
        self,
        workflow_id: str,
        topic: str,
        batch_size: int,
        batch_timeout_seconds: float | None,
        now: float,
    ) -> None:
        """Register a trigger; a new one starts after the last event published so far."""

    @abc.abstractmethod
    async def list_triggers(self) -> list[TriggerRow]: ...

    @abc.abstractmethod
    async def fire_trigger(
        self,
        workflow_id: str,
        topic: str,
        expected_cursor: int,
        new_cursor: int,
        executions: Sequence[NewExecution],
        now: float,
    ) -> bool:
        """Advance a trigger's cursor and start its runs, only if no one else did."""

    # cancellation -----------------------------------------------------------
    @abc.abstractmethod
    async def list_waits(
        self, kind: WaitKind, workflow_id: str | None = None
    ) -> list[ExecutionRow]:
        """Executions waiting on a wait of ``kind`` (pending suspends, for instance)."""

    @abc.abstractmethod
    async def cancel_execution(self, execution_id: str, now: float) -> ExecutionRow | None:
        """Cancel a queued, waiting or running execution and its active descendants.

        Returns the row after.

        A running execution is marked ``cancelled`` at once; its worker's
        next fenced write is refused, so it stops at its next step boundary.
        Returns ``None`` when the id is unknown.
        """

    # retry and fork (see :mod:`.retries`) --------------------------------------
    @abc.abstractmethod
    async def retry_execution(
        self, execution_id: str, now: float, *, statuses: Sequence[str] | None = None
    ) -> RetryOutcome | None:
        """Start a failed or cancelled execution again, under the same id, in one transaction.

        The records of its failed steps are removed (they run again), the rest
        replay; children it waited for that failed or were cancelled are
        retried with it and it waits for them again (see :mod:`.retries`).
        It is queued (or waiting, on those children) with no error, a
        ``retried`` history entry, and a parent waiting on it counts it again.
        ``statuses`` narrows which statuses are retried (default: failed and
        cancelled). Returns None when the id is unknown, and ``retried=False``
        with the row unchanged when its status is not one of those.
        """

    @abc.abstractmethod
    async def fork_execution(
        self, source_id: str, new: NewExecution, from_step: str, copy_steps: Sequence[str]
    ) -> bool:
        """Create ``new`` (queued) holding copies of the source's step records
        ``copy_steps``, in one transaction; both runs get a ``forked`` history
        entry naming the other. Returns False (nothing written) when the source is unknown."""

    @abc.abstractmethod
    async def list_failed(
        self,
        *,
        workflow_id: str | None = None,
        failed_after: float | None = None,
        failed_before: float | None = None,
        error_contains: str | None = None,
        limit: int = 1000,
    ) -> list[ExecutionRow]:
        """Failed executions, oldest failure first: of one workflow, failed at or
        after ``failed_after`` and before ``failed_before``, whose stored error
        (its JSON text) holds ``error_contains`` as typed (no wildcards)."""

    # workflows served ---------------------------------------------------------
    @abc.abstractmethod
    async def register_workflows(self, served: Sequence[ServedWorkflow], now: float) -> None:
        """Remember that a worker serves these workflows, as it describes them."""

    @abc.abstractmethod
    async def known_workflows(self, workflow_ids: Sequence[str]) -> set[str]:
        """Which of ``workflow_ids`` some worker has ever served here."""

    @abc.abstractmethod
    async def all_workflows(self) -> list[str]: ...

    @abc.abstractmethod
    async def served_workflows(self) -> list[ServedWorkflow]:
        """Every workflow, agent and tool some worker has served here, by id."""

    # workers ------------------------------------------------------------------
    @abc.abstractmethod
    async def set_result_schema(self, execution_id: str, attempt: int, name: str) -> bool:
        """Name the class of the result a running execution is about to report (a Polos
        SDK worker's pydantic model), fenced like the completion that follows."""

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
    async def ended_among(self, execution_ids: Sequence[str]) -> list[str]:
        """Which of ``execution_ids`` have ended (completed, failed or cancelled),
        in one query: the poll of every waiter of a process at once."""

    @abc.abstractmethod
    async def find_execution_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of the executions whose id starts with ``prefix`` (as typed: ``%`` and
        ``_`` are not wildcards), in id order, at most ``limit``: what a short id a
        person typed may mean. An empty prefix matches nothing."""

    @abc.abstractmethod
    async def list_steps(self, execution_id: str) -> list[StepRow]: ...

    @abc.abstractmethod
    async def get_step(self, execution_id: str, step_key: str) -> StepRow | None: ...

    @abc.abstractmethod
    async def list_history(self, execution_id: str) -> list[HistoryRow]: ...

    @abc.abstractmethod
    async def list_run_tree(self, root_execution_id: str) -> list[ExecutionRow]:
        """The root execution and every run under it (children, grandchildren...),
        oldest first; empty when the root does not exist."""

    @abc.abstractmethod
    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        created_after: float | None = None,
        created_before: float | None = None,
        session_id: str | None = None,
        id_contains: str | None = None,
    ) -> list[ExecutionRow]:
        """Newest first (ties by id), skipping ``offset`` rows; ``created_after``
        (inclusive) and ``created_before`` (exclusive) bound ``created_at``;
        ``session_id`` keeps one session's runs, ``id_contains`` the runs whose
        id holds that text (as typed: no wildcards)."""

    # retention ----------------------------------------------------------------
    @abc.abstractmethod
    async def purge_finished(
        self,
        finished_before: float,
        *,
        statuses: Collection[str],
        workflow_id: str | None = None,
        exclude_workflow_ids: Collection[str] = (),
        limit: int = 1000,
        dry_run: bool = False,
    ) -> PurgeCount:
        """Delete up to ``limit`` finished run trees, oldest first, in one transaction.

        A tree is a root run (no parent) with every run under it. It is taken
        only when its root's status is in ``statuses`` (finished ones only),
        its root's workflow is ``workflow_id`` (when given) and not in
        ``exclude_workflow_ids``, and every run of it finished before
        ``finished_before``: a tree with a queued, running or waiting run is
        never touched. Its runs go with their steps, history and the events
        of the tree's own topics (``workflow/<wf>/<root>`` and the resume
        topics of its suspends). A tree another transaction holds is skipped
        for now. ``dry_run`` counts every matching tree and its runs (no
        ``limit``; steps, history and events are not counted: None) and
        deletes nothing.
        """

    @abc.abstractmethod
    async def set_retention(self, retention: Mapping[str, float | None]) -> None:
        """Record how long each workflow's finished runs are kept (seconds;
        ``None`` for the default, ``inf`` for ever). Unknown workflows are skipped."""

    @abc.abstractmethod
    async def list_retention(self) -> dict[str, float]:
        """The workflows with a retention of their own, and that retention in seconds."""

    @abc.abstractmethod
    async def take_lease(self, name: str, owner: str, now: float, seconds: float) -> bool:
        """Hold the lease ``name`` until ``now + seconds`` if it is free, expired or
        already ``owner``'s; False when someone else holds it."""

    @abc.abstractmethod
    async def drop_lease(self, name: str, owner: str) -> None:
        """Give the lease up, if ``owner`` still holds it."""

    # API keys (of a polos server) -----------------------------------------------
    @abc.abstractmethod
    async def create_api_key(self, key: ApiKeyRow) -> None:
        """Store a new key (its hash; :mod:`.api_keys` makes both)."""

    @abc.abstractmethod
    async def list_api_keys(self) -> list[ApiKeyRow]:
        """Every key, revoked ones included, oldest first."""

    @abc.abstractmethod
    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        """The key with this hash, revoked or not; None when there is none."""

    @abc.abstractmethod
    async def revoke_api_key(self, key_id: str, now: float) -> bool:
        """Revoke a key; False when there is no such key or it was revoked already."""

    @abc.abstractmethod
    async def has_api_keys(self) -> bool:
        """Whether any key was ever created (a revoked one counts)."""

    # spans exported by SDK workers (see :mod:`.spans`) ------------------------------
    @abc.abstractmethod
    async def record_spans(self, spans: Sequence[SpanRow]) -> None:
        """Store spans in one transaction; a span already stored (same trace and
        span id) is replaced by the newer export."""

    @abc.abstractmethod
    async def trace_spans(self, trace_id: str) -> list[SpanRow]:
        """A trace's spans, by start time."""

    @abc.abstractmethod
    async def list_traces(
        self,
        *,
        started_after: float | None = None,
        ended_before: float | None = None,
        root_span_type: str | None = None,
        root_span_name: str | None = None,
        has_error: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TraceSummary]:
        """Traces with stored spans, latest ended first: started at or after
        ``started_after``, ended at or before ``ended_before``, whose root span
        is of ``root_span_type``, has ``root_span_name`` in its name (as typed),
        and ended with (or without) an error."""
