"""``Worker``: claims executions under a lease and runs many at once on one loop.

Four background loops: claiming (woken in-process when work is queued, else
by a short poll), heartbeats (renew leases, learn of cancellations and
take-overs, recover the runs of dead workers), timers (fire due waits, requeue
expired leases) and the execution tasks themselves; and, when retention is
set, a low-priority sweep purging old finished runs (see ``engine.retention``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from ..channels.channel import Channel, SuspendNotification
from ..engine import definition as registry
from ..engine.clock import SYSTEM_CLOCK, Clock
from ..engine.decoded_outputs import DecodedOutputs
from ..engine.definition import WorkflowDefinition
from ..engine.executor import execute
from ..engine.queues import defined_queues, ensure_in_store
from ..engine.retention import SWEEP_LEASE, default_retention, sweep
from ..engine.run import DEFAULT_MAX_PAYLOAD_BYTES, ExecutionRun
from ..engine.schedules import fire_due, schedule_row
from ..engine.signals import StopReason
from ..engine.triggers import fire_triggers
from ..errors import StoreError, WorkflowDefinitionError, WorkflowNotFoundError
from ..observability.logs import configure_logging, fields
from ..observability.tracing import OtelTracer, tracer_from_env
from ..store import Claimed, EagerClaim, NewExecution, ServedWorkflow, Store, WorkerRow
from ..store.deployments import ANY_DEPLOYMENT
from ..store.retention import PurgeCount
from .client import PolosClient
from .collector import tune_once
from .liveness import HOSTNAME, provably_dead
from .settings import DEFAULT_DEPLOYMENT_ID, send_logs_to_file
from .worker_resources import close_worker_resources

log = logging.getLogger("polos.worker")
#: At most this long to export the spans still queued when a worker stops (an
#: unreachable collector must not hold shutdown for the exporter's 30 s).
FLUSH_SECONDS = 5.0

DEFAULT_MAX_CONCURRENT = 100
#: How often some worker sweeps for runs past their retention (one per database).
DEFAULT_RETENTION_SWEEP_SECONDS = 600.0
#: Between two purge batches of a sweep: the database goes to the runs first.
_SWEEP_PAUSE = 0.05
#: How many runs this worker parked (and let go of) it remembers, most recent
#: first: a child's completion here may take one back in its own transaction.
_PARKED_REMEMBERED = 4096
#: The shortest hold on the sweep's lease: longer than any batch, so a short
#: interval never lets a second worker start while the first is mid-batch.
_SWEEP_LEASE_SECONDS = 60.0


#: Database connections a worker opens at start (see ``Worker._warm_store``).
_WARM_CONNECTIONS = 4


def _serve_deployments(given: Iterable[str] | None) -> tuple[str, ...]:
    """``serve_deployments=``, else ``POLOS_SERVE_DEPLOYMENTS`` (comma-separated)."""
    if given is None:
        given = os.environ.get("POLOS_SERVE_DEPLOYMENTS", "").split(",")
    elif isinstance(given, str):
        raise TypeError(
            f"serve_deployments takes a list of deployment ids, got the string {given!r}: "
            f"write serve_deployments=[{given!r}]"
        )
    return tuple(d.strip() for d in given if d and d.strip())


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


class Worker:
    """Runs workflows. ``await worker.run()`` blocks until SIGINT/SIGTERM."""

    def __init__(
        self,
        client: PolosClient | None = None,
        deployment_id: str | None = None,
        agents: Iterable[Any] | None = None,
        tools: Iterable[Any] | None = None,
        workflows: Iterable[WorkflowDefinition | str] | None = None,
        max_concurrent_workflows: int | None = None,
        mode: str = "pull",
        worker_server_url: str | None = None,
        log_file: str | None = None,
        channels: Iterable[Channel] | None = None,
        *,
        database_url: str | None = None,
        lease_seconds: float = 30.0,
        heartbeat_interval: float | None = None,
        poll_interval: float = 0.1,
        shutdown_grace_seconds: float = 10.0,
        worker_id: str | None = None,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        hold_seconds: float = 10.0,
        log_level: str | None = None,
        log_format: str | None = None,
        retention: float | str | timedelta | None = None,
        retention_sweep_interval: float = DEFAULT_RETENTION_SWEEP_SECONDS,
        serve_deployments: Iterable[str] | None = None,
    ) -> None:
        if log_file:
            send_logs_to_file(log_file)
        elif log_level is not None or log_format is not None:
            configure_logging(log_level or "info", log_format or "text")
        if mode not in ("push", "pull"):
            raise ValueError(f"mode must be 'push' or 'pull', got {mode!r}")
        if max_concurrent_workflows is None:
            max_concurrent_workflows = _env_int(
                "POLOS_MAX_CONCURRENT_WORKFLOWS", DEFAULT_MAX_CONCURRENT
            )
        if max_concurrent_workflows < 1:
            raise ValueError(
                f"max_concurrent_workflows must be at least 1, got {max_concurrent_workflows}"
            )
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        if retention_sweep_interval <= 0:
            raise ValueError(
                f"retention_sweep_interval must be positive, got {retention_sweep_interval}"
            )
        #: Seconds finished runs are kept by default (``retention=`` or
        #: ``POLOS_RETENTION``; None keeps them); a workflow's own retention wins.
        self.retention = default_retention(retention)
        self.retention_sweep_interval = retention_sweep_interval
        self.client = client or PolosClient(
            database_url=database_url,
            deployment_id=deployment_id,
            max_payload_bytes=max_payload_bytes,
        )
        self.deployment_id: str = (
            deployment_id or self.client.deployment_id or DEFAULT_DEPLOYMENT_ID
        )
        #: Runs of these older deployments are served too ("*": any); by default
        #: a worker serves only runs that started on its own deployment.
        self.serve_deployments = _serve_deployments(serve_deployments)
        #: Told when a run of this worker suspends for a person (``ctx.step.suspend``).
        self.channels: list[Channel] = list(channels or ())
        # Polos pushes work to a worker over HTTP ("push") or lets it poll
        # ("pull"); an embedded worker always claims from the database itself.
        self.mode = mode
        self.worker_server_url = worker_server_url
        self._requested = [*(workflows or ()), *(agents or ()), *(tools or ())]
        self._explicit = workflows is not None or agents is not None or tools is not None
        self.max_concurrent_workflows = max_concurrent_workflows
        self.lease_seconds = lease_seconds
        self.heartbeat_interval = heartbeat_interval or lease_seconds / 3
        self.poll_interval = poll_interval
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.worker_id = worker_id or f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.clock = clock or SYSTEM_CLOCK
        self.max_payload_bytes = max_payload_bytes
        self.hold_seconds = hold_seconds
        # Parked runs kept in memory, waiting to be claimed again by this worker.
        self._holds: dict[str, asyncio.Future[Claimed | None]] = {}
        #: Runs that parked here and were let go (not held): ids, oldest first.
        self._parked: OrderedDict[str, None] = OrderedDict()
        self.definitions: dict[str, WorkflowDefinition] = {}
        self._runs: dict[str, ExecutionRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._started = False
        self._slot_free = asyncio.Event()
        #: Slots promised to eager starts whose insert is still in flight.
        self._reserved = 0
        self._unsubscribe: Any = None
        self._notifications: set[asyncio.Task[None]] = set()
        #: Given to every run when tracing is on (OTEL_EXPORTER_OTLP_*), else None.
        self.tracer: OtelTracer | None = None
        #: Step outputs its runs decoded, reused when one replays again here.
        self.decoded_outputs = DecodedOutputs()

    @property
    def store(self) -> Store:
        return self.client.store

    @property
    def running(self) -> int:
        return len(self._tasks)

    # lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._resolve_definitions()
        await self.client.start()
        await self._warm_store()
        self.tracer = tracer_from_env()
        now = self.clock.now()
        await self.store.register_worker(
            WorkerRow(
                self.worker_id,
                HOSTNAME,
                os.getpid(),
                now,
                now,
                self.deployment_id,
                self.serve_deployments,
            )
        )
        await self._register_schedules_and_triggers(now)
        await self._recover_dead_workers()
        self._unsubscribe = self.store.hub.on_cancel(self._on_cancelled)
        self._started, self._stopping = True, False
        self.client.local_worker = self  # its invocations may start here at once
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="polos-claim"),
            asyncio.create_task(self._heartbeat_loop(), name="polos-heartbeat"),
            asyncio.create_task(self._timer_loop(), name="polos-timers"),
            asyncio.create_task(self._trigger_loop(), name="polos-triggers"),
        ]
        if self._sweeps_retention:
            self._loops.append(asyncio.create_task(self._retention_loop(), name="polos-retention"))
        # The import-time objects out of every later full collection; fewer young collections.
        tune_once()
        log.info(
            "worker started",
            extra=fields(
                worker_id=self.worker_id,
                database=self.store.description,
                workflows=len(self.definitions),
                tracing=self.tracer is not None,
            ),
        )

    async def stop(self) -> None:
        """Stop claiming; running executions stop at their next step and go back to the queue."""
        if not self._started:
            return
        self._stopping = True
        if self.client.local_worker is self:
            self.client.local_worker = None
        for task in self._loops[:1]:
            task.cancel()
        self._release_holds()
        for run in self._runs.values():
            run.stop(StopReason.SHUTTING_DOWN)
        if self._tasks:
            _, pending = await asyncio.wait(
                list(self._tasks.values()), timeout=self.shutdown_grace_seconds
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        await close_worker_resources(self.worker_id)
        if self._sweeps_retention:
            with contextlib.suppress(Exception):
                await self.store.drop_lease(SWEEP_LEASE, self.worker_id)
        if self._unsubscribe is not None:
            self._unsubscribe()
        with contextlib.suppress(Exception):
            await self.store.unregister_worker(self.worker_id)
        self._started = False
        if self.tracer is not None:
            # Export what this worker's runs emitted before the process may exit.
            await asyncio.to_thread(self.tracer.flush, FLUSH_SECONDS)
        log.info("worker stopped", extra=fields(worker_id=self.worker_id))

    async def run(self) -> None:
        """Start, then serve until SIGINT or SIGTERM, then stop gracefully."""
        await self.start()
        try:
            await wait_for_signal()
        finally:
            await self.stop()

    async def _warm_store(self) -> None:
        """Open now the database connections the first runs would wait for.

        A PostgreSQL store opens one connection at start; a worker's first
        run then waited for three more (its own operations, the claim, timer
        and trigger loops' first turns at once), each a connect and a login in
        the middle of the run. SQLite has nothing to open."""
        await self.store.warm(_WARM_CONNECTIONS)

    def _resolve_definitions(self) -> None:
        if not self._explicit:
            self._requested = list(registry.all_definitions())
        for item in self._requested:
            if isinstance(item, str):
                found = registry.lookup(item)
                if found is None:
                    raise WorkflowNotFoundError(item, [d.id for d in registry.all_definitions()])
                item = found
            if not isinstance(item, WorkflowDefinition):
                raise WorkflowDefinitionError(f"Worker got {item!r}, which is not a workflow")
            self.definitions[item.id] = item

    async def _register_schedules_and_triggers(self, now: float) -> None:
        await ensure_in_store(
            self.store, [*defined_queues(), *(d.queue for d in self.definitions.values())]
        )
        await self.store.register_workflows(
            [self._served(d) for d in self.definitions.values()], now
        )
        await self.store.set_retention({d.id: d.retention for d in self.definitions.values()})
        for definition in self.definitions.values():
            if definition.schedule is not None:
                await self.store.upsert_schedule(
                    schedule_row(definition.id, definition.schedule, now)
                )
            if definition.trigger_on_event is not None:
                await self.store.upsert_trigger(
                    definition.id,
                    definition.trigger_on_event,
                    definition.batch_size,
                    definition.batch_timeout_seconds,
                    now,
                )

    def _served(self, definition: WorkflowDefinition) -> ServedWorkflow:
        described = definition.describe()
        return ServedWorkflow(
            definition.id,
            definition.queue.name,
            definition.kind,
            self.deployment_id,
            None if described is None else json.dumps(described, default=str),
        )

    # claiming ---------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        work = self.store.hub.work_event()
        ids = {d.id: d.queue.name for d in self.definitions.values()}
        while not self._stopping:
            free = self.max_concurrent_workflows - len(self._tasks) - self._reserved
            if free > 0 and ids:
                work.clear()
                lease_until = time.monotonic() + self.lease_seconds
                try:
                    batch = await self.store.claim(
                        self.worker_id,
                        ids,
                        free,
                        self.clock.now(),
                        self.lease_seconds,
                        skip_steps_for=set(self._holds),
                        deployment_id=self.deployment_id,
                        serve_deployments=self.serve_deployments,
                    )
                except Exception:
                    _log_failure("claiming failed; retrying")
                    batch = []
                    await asyncio.sleep(self.poll_interval)
                for claimed in batch:
                    self._launch(claimed, lease_until)
                if len(batch) == free:
                    await asyncio.sleep(0)  # let the new tasks start, then claim more
                    continue
                await _wait_any([work], self.poll_interval)
            else:
                self._release_holds()  # held runs never keep new work from a slot
                self._slot_free.clear()
                await _wait_any([self._slot_free], self.poll_interval)

    # eager start ------------------------------------------------------------------------
    async def create_executions(self, news: Sequence[NewExecution]) -> list[str]:
        """Insert runs submitted in this process; those this worker serves and
        has a free slot for are inserted already claimed by it and start here
        at once, without a claim and its wake-up (see :mod:`polos.store.eager`)."""
        claim = self.reserve(news)
        if claim is None:
            return await self.store.create_executions(news)
        taken: Sequence[Claimed] = ()
        try:
            created = await self.store.create_and_claim(news, claim)
            taken = created.claimed
        finally:
            self.started(claim, taken)
        return created.ids

    def reserve(self, news: Sequence[NewExecution]) -> EagerClaim | None:
        """The eager claim for the runs of ``news`` this worker may start at once,
        their slots held (the claim loop must not fill them) until ``started``."""
        eligible = self._eager_eligible(news)
        if not eligible:
            return None
        self._reserved += len(eligible)
        return EagerClaim(
            self.worker_id, self.clock.now(), self.lease_seconds, eligible, self.deployment_id
        )

    def started(self, claim: EagerClaim, claimed: Sequence[Claimed]) -> None:
        """Free ``claim``'s slots and run what the store took for it."""
        self._reserved -= len(claim.eligible)
        # The lease runs from the claim's time, not from now.
        lease_until = time.monotonic() + claim.now + claim.lease_seconds - self.clock.now()
        for item in claimed:
            if self._stopping:
                # Stopping began while the insert was in flight: back to the queue.
                task = asyncio.create_task(self._hand_back(item))
                self._notifications.add(task)
                task.add_done_callback(self._notifications.discard)
            else:
                self._launch(item, lease_until)
        if len(claimed) < len(claim.eligible):
            self._slot_free.set()  # slots held for nothing: the claim loop may use them

    def resume_claim(self, parent_execution_id: str | None) -> EagerClaim | None:
        """A claim for ``parent_execution_id`` if this worker holds it in memory,
        or if it parked here and was let go (the store then returns it with its
        steps, to replay; only a store with ``resumes_with_steps``, and only
        into the slot the completing child gives up).

        Its child's completion may then claim it in the same transaction when
        that ends its wait (see ``Store.complete_and_resume``): no requeue, no
        claim loop turn. A held coroutine takes no new slot."""
        if parent_execution_id is None or self._stopping:
            return None
        hold = self._holds.get(parent_execution_id)
        replays: tuple[str, ...] = ()
        if hold is None or hold.done():
            if (
                parent_execution_id not in self._parked
                or not self.store.resumes_with_steps
                # The completing child's slot is still counted: it is the one offered.
                or self.max_concurrent_workflows - len(self._tasks) - self._reserved < 0
            ):
                return None
            self._reserved += 1  # until resumed(): the claim loop must not fill it
            replays = (parent_execution_id,)
        return EagerClaim(
            self.worker_id,
            self.clock.now(),
            self.lease_seconds,
            (parent_execution_id,),
            self.deployment_id,
            replays=replays,
        )

    def resumed(self, claim: EagerClaim, claimed: Sequence[Claimed]) -> None:
        """Give each run taken for ``claim`` to its held coroutine, or start it
        (one of ``claim.replays``: it replays from its steps); one no longer
        held (its hold ran out meanwhile) goes back to the queue, for the claim
        loop to take with its steps."""
        self._reserved -= len(claim.replays)
        lease_until = time.monotonic() + claim.now + claim.lease_seconds - self.clock.now()
        for item in claimed:
            execution_id = item.execution.id
            hold = self._holds.get(execution_id)
            if execution_id in claim.replays and not self._stopping:
                self._launch(item, lease_until)
            elif hold is None or hold.done() or self._stopping:
                task = asyncio.create_task(self._hand_back(item))
                self._notifications.add(task)
                task.add_done_callback(self._notifications.discard)
            else:
                self._launch(item, lease_until)
        if claim.replays and len(claimed) < len(claim.replays):
            self._slot_free.set()  # the slot held for it: the claim loop may use it

    async def _hand_back(self, claimed: Claimed) -> None:
        execution = claimed.execution
        try:
            await self.store.release_execution(execution.id, execution.attempt, self.clock.now())
        except Exception:
            _log_failure("handing back run %s failed; its lease will expire", execution.id)

    def _eager_eligible(self, news: Sequence[NewExecution]) -> list[str]:
        """Ids of the runs this worker may start at once: a workflow it runs, on
        its queue's path (a known queue), of a deployment it serves, one per free slot."""
        if not self._started or self._stopping:
            return []
        free = self.max_concurrent_workflows - len(self._tasks) - self._reserved
        eligible: list[str] = []
        for new in news:
            if len(eligible) >= free:
                break
            if (
                new.workflow_id in self.definitions
                and new.queue_name
                and (new.deployment_id is None or self._serves(new.deployment_id))
            ):
                eligible.append(new.id)
        return eligible

    def _serves(self, deployment_id: str) -> bool:
        """Whether a claim by this worker takes runs pinned to ``deployment_id``."""
        return (
            deployment_id == self.deployment_id
            or deployment_id in self.serve_deployments
            or ANY_DEPLOYMENT in self.serve_deployments
        )

    def _launch(self, claimed: Claimed, lease_until: float) -> None:
        execution = claimed.execution
        self._parked.pop(execution.id, None)
        hold = self._holds.get(execution.id)
        if hold is not None and not hold.done():
            held = self._runs.get(execution.id)
            if held is not None:
                held.lease_until = lease_until
                log.info("run resumed", extra=_run_fields(held, held_in_memory=True))
            hold.set_result(claimed)  # the parked coroutine carries on from its wait
            return
        run = ExecutionRun(
            self.store,
            claimed,
            self.definitions[execution.workflow_id],
            clock=self.clock,
            worker_id=self.worker_id,
            max_payload_bytes=self.max_payload_bytes,
        )
        run.holder = self._hold
        run.eager = self
        run.lease_until = lease_until
        run.deployment_id = self.deployment_id
        run.tracer = self.tracer
        run.decoded = self.decoded_outputs
        if log.isEnabledFor(logging.INFO):  # the fields cost more than the check
            log.info(
                "run started" if execution.attempt <= 1 else "run resumed",
                extra=_run_fields(run, replaying=len(run.recorded) or None),
            )
        if self.channels:
            run.on_suspend = self._notify_channels
        self._runs[execution.id] = run
        self.store.hub.execution_started_here(execution.id)
        self._tasks[execution.id] = asyncio.create_task(
            self._execute(run), name=f"polos-{execution.id}"
        )

    async def _execute(self, run: ExecutionRun) -> None:
        started = time.monotonic()
        try:
            await execute(run)
        except asyncio.CancelledError:
            pass
        except Exception:
            _log_failure(
                "execution %s stopped on an internal error; its lease will expire and "
                "another attempt will resume it",
                run.execution_id,
            )
        finally:
            self._runs.pop(run.execution_id, None)
            self._tasks.pop(run.execution_id, None)
            self.store.hub.execution_left_here(run.execution_id)
            if run.stop_reason is StopReason.SUSPENDED:
                self._parked[run.execution_id] = None
                if len(self._parked) > _PARKED_REMEMBERED:
                    self._parked.popitem(last=False)
            self._slot_free.set()
            _log_outcome(run, time.monotonic() - started)

    def _notify_channels(self, notice: dict[str, Any]) -> None:
        """Tell every channel about a suspend, concurrently, without holding up the run."""
        notification = SuspendNotification.model_validate(notice)
        notify = notification.channel_overrides or {}
        for channel in self.channels:
            # As in Polos, a channel is given only its own part of ``_notify``.
            own = notify.get(getattr(channel, "id", ""))
            told = notification.model_copy(
                update={"channel_overrides": own if isinstance(own, dict) else None}
            )
            task = asyncio.create_task(_notify(channel, told))
            self._notifications.add(task)
            task.add_done_callback(self._notifications.discard)

    def _on_cancelled(self, execution_id: str) -> None:
        run = self._runs.get(execution_id)
        if run is not None:
            run.stop(StopReason.CANCELLED)
        hold = self._holds.get(execution_id)
        if hold is not None and not hold.done():
            hold.set_result(None)

    # holding parked runs in memory ---------------------------------------------------------
    async def _hold(self, run: ExecutionRun, step_key: str) -> Claimed | None:
        """Keep a parked run's coroutine until this worker claims the run again.

        Only while the worker has spare capacity (at most half its slots busy)
        and for at most ``hold_seconds``; a held run is given up as soon as a
        slot is needed, at shutdown, or on cancellation. Giving up costs only a
        replay later: the database already holds the run as waiting.
        """
        if (
            self._stopping
            or self.hold_seconds <= 0
            or len(self._tasks) > self.max_concurrent_workflows // 2
        ):
            return None
        hold: asyncio.Future[Claimed | None] = asyncio.get_running_loop().create_future()
        self._holds[run.execution_id] = hold
        log.info("run waiting", extra=_run_fields(run, step_key=step_key, held_in_memory=True))
        run.holding = True
        try:
            return await asyncio.wait_for(hold, self.hold_seconds)
        except TimeoutError:
            return None
        finally:
            run.holding = False
            self._holds.pop(run.execution_id, None)

    def _release_holds(self) -> None:
        for hold in self._holds.values():
            if not hold.done():
                hold.set_result(None)

    # heartbeats and recovery -------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                # Each run with the claim it held when the heartbeat left: a run
                # that parks while the heartbeat is on its way is no longer
                # "running" when the database reads it, so it comes back lost,
                # yet it may be held here, or already taken back under a new
                # claim (a new row) with a lease of its own. Stopping it then
                # stranded it until that lease ran out, and made its model call
                # again after.
                runs = [(run, run.row) for run in self._runs.values() if not run.holding]
                renewed_until = time.monotonic() + self.lease_seconds
                lost = await self.store.heartbeat(
                    self.worker_id,
                    [(run.execution_id, run.attempt) for run, _ in runs],
                    self.clock.now(),
                    self.lease_seconds,
                )
                for run, claim in runs:
                    if run.holding or run.row is not claim:
                        continue  # parked meanwhile: not what this heartbeat was about
                    if run.execution_id in lost:
                        run.stop(StopReason.LEASE_LOST)
                    else:
                        run.lease_until = max(run.lease_until, renewed_until)
                await self._recover_dead_workers()
            except Exception:
                _log_failure("heartbeat failed; retrying")

    async def _recover_dead_workers(self) -> None:
        now = self.clock.now()
        for other in await self.store.list_workers():
            if other.worker_id == self.worker_id:
                continue
            stale = now - other.heartbeat_at > self.lease_seconds * 2
            if provably_dead(other.hostname, other.pid) or stale:
                count = await self.store.requeue_worker(other.worker_id, now)
                if count:
                    log.warning(
                        "runs recovered from a worker that is gone",
                        extra=fields(
                            worker_id=other.worker_id,
                            pid=other.pid,
                            host=other.hostname,
                            runs=count,
                        ),
                    )

    # timers and expired leases -------------------------------------------------------------
    async def _timer_loop(self) -> None:
        timers = self.store.hub.timer_event()
        last_reap = 0.0
        while True:
            try:
                timers.clear()
                now = self.clock.now()
                due = await fire_due(self.store, now)
                if time.monotonic() - last_reap > min(self.lease_seconds / 2, 5.0):
                    last_reap = time.monotonic()
                    expired = await self.store.requeue_expired_leases(now)
                    if expired:
                        log.info(
                            "runs recovered after their lease expired",
                            extra=fields(runs=expired),
                        )
                sleep = 1.0 if due is None else max(0.0, min(due - self.clock.now(), 1.0))
            except Exception:
                _log_failure("timer loop failed; retrying")
                sleep = 1.0
            await _wait_any([timers], sleep)

    # retention ------------------------------------------------------------------------
    @property
    def _sweeps_retention(self) -> bool:
        """Only workers told of a retention sweep: one without would hold the
        lease and apply no default."""
        return self.retention is not None or any(
            d.retention is not None for d in self.definitions.values()
        )

    async def _retention_loop(self) -> None:
        await asyncio.sleep(min(self.retention_sweep_interval, 30.0))
        while True:
            try:
                await self.sweep_retention()
            except Exception:
                _log_failure("retention sweep failed; trying again at the next interval")
            await asyncio.sleep(self.retention_sweep_interval)

    async def sweep_retention(self) -> PurgeCount | None:
        """Purge the finished runs past their retention, if no other worker of this
        database is sweeping (a lease in the store); None when one is."""

        async def hold() -> bool:
            # Renewed before every batch: a long sweep keeps it, a dead one loses it.
            return not self._stopping and await self.store.take_lease(
                SWEEP_LEASE,
                self.worker_id,
                self.clock.now(),
                max(self.retention_sweep_interval, _SWEEP_LEASE_SECONDS),
            )

        if not await hold():
            return None
        purged = await sweep(
            self.store, self.clock.now(), self.retention, pause=_SWEEP_PAUSE, keep_going=hold
        )
        if purged.trees:
            log.info(
                "finished runs purged by retention",
                extra=fields(trees=purged.trees, runs=purged.executions, steps=purged.steps),
            )
        return purged

    async def _trigger_loop(self) -> None:
        published = self.store.hub.events_event()
        while True:
            published.clear()
            try:
                started = await fire_triggers(self.store, self.clock.now())
            except Exception:
                _log_failure("event triggers failed; retrying")
                started = 0
            if not started:
                await _wait_any([published], 1.0)


async def _wait_any(events: list[asyncio.Event], timeout: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (or until cancelled)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _run_fields(run: ExecutionRun, **more: Any) -> dict[str, Any]:
    return fields(
        execution_id=run.execution_id,
        workflow_id=run.definition.id,
        attempt=run.attempt,
        **more,
    )


def _log_outcome(run: ExecutionRun, seconds: float) -> None:
    """How this attempt of ``run`` ended: one line."""
    reason = run.stop_reason
    if reason is not StopReason.FAILED and not log.isEnabledFor(logging.INFO):
        return
    took = round(seconds * 1000, 1)
    if reason is StopReason.COMPLETED:
        log.info("run completed", extra=_run_fields(run, duration_ms=took))
    elif reason is StopReason.FAILED:
        error = run.failure
        described = None if error is None else f"{type(error).__name__}: {error}"
        log.warning("run failed", extra=_run_fields(run, duration_ms=took, error=described))
    elif reason is StopReason.SUSPENDED:
        # Its slot is free; the database holds it as waiting until the wait resolves.
        log.info("run parked", extra=_run_fields(run, duration_ms=took, step_key=run.parked_on))
    else:
        reason_text = "internal error" if reason is None else str(reason)
        log.info("run stopped", extra=_run_fields(run, duration_ms=took, reason=reason_text))


def _log_failure(message: str, *args: Any) -> None:
    """Log the exception being handled: with its traceback if it is a bug; at
    debug level if it is a store error, which the store has already logged,
    once per outage (one line per retry of every loop and run drowned it)."""
    exc = sys.exc_info()[1]
    if isinstance(exc, StoreError):
        log.debug(f"{message}: %s", *args, exc)
    else:
        log.exception(message, *args)


async def _notify(channel: Channel, notification: SuspendNotification) -> None:
    try:
        await channel.notify(notification)
    except Exception:
        log.exception(
            "channel %r failed to send the notice of suspend %s/%s; the run still waits",
            channel.id,
            notification.execution_id,
            notification.step_key,
        )
