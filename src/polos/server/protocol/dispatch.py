"""Pushing runs to Polos SDK workers, and keeping their leases while they live.

Our own workers claim from the database; an SDK worker waits to be sent work
(``POST {push endpoint}/execute``). So the server claims for it: the
dispatcher takes queued runs of the workflows an online SDK worker serves
through the store's ordinary ``claim`` (the SDK worker's id as owner, its
deployment as the version served), so leases, attempts, queue limits and
concurrency keys are the same as for any worker, then pushes each run. A push
refused (429 at capacity, 503, an unreachable endpoint) hands the run back
to the queue at once (``release_execution``) and leaves that worker alone
for a moment; another worker, or this one later, gets it.

It wakes on the store's work signal (a submission, a requeue, a finished
child) and polls every ``POLL_SECONDS`` for what other processes queued
without telling this one.

Leases. The SDK heartbeats only every 30 seconds, and a lease must outlive
the gaps between renewals, so the server renews for it: every
``probe_seconds`` it asks each online SDK worker's push endpoint for
``/health`` and, while it answers, renews the leases of the runs that worker
holds (``Store.heartbeat``, which also keeps the worker's row fresh so our own
workers do not take it for dead). An endpoint that refuses connections
``DEAD_AFTER`` times in a row belongs to a dead process: its runs are
requeued at once (``requeue_worker``) and pushed again elsewhere, where the
SDK replays them from their recorded steps. An endpoint that is merely slow
renews nothing, so its leases run out and the ordinary reclaim applies.

Cancellation. A run held by an SDK worker that is cancelled (through our API,
CLI or dashboard) is announced to that worker (``POST {push
endpoint}/cancel/{id}`` with ``X-Worker-ID``), from this process's cancel
signal at once, or within ``REFRESH_SECONDS`` when another process cancelled
it.

With no SDK worker registered the dispatcher only looks for one now and then.
While there is one it also requeues runs whose lease expired, as our workers
do, because a fleet of SDK workers alone has no one else to do it (timers and
schedules fire in the server's duties, :mod:`.duties`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic_core import to_jsonable_python

from ... import serialization
from ...runtime.remote import KEEPALIVE_EXPIRY
from ...store import Store, WorkerRow
from ...store.records import Claimed, ExecutionRow
from ...store.vocabulary import Status

if TYPE_CHECKING:
    from ..state import ServerState

log = logging.getLogger("polos.server.protocol")

#: Seconds between looks for work nobody signalled (other processes' submissions).
POLL_SECONDS = 0.5
#: Seconds between looks for a first SDK worker while none is registered.
IDLE_SECONDS = 2.0
#: Most runs claimed for one worker in one go.
BATCH = 20
#: Refused connections in a row after which a push endpoint's process is dead.
DEAD_AFTER = 3
#: Seconds between reads of which runs each SDK worker holds (runs other server
#: processes pushed, runs cancelled by other processes are learnt at this pace).
REFRESH_SECONDS = 3.0
#: Polos's default capacity of an SDK worker that said none.
DEFAULT_CAPACITY = 100
LEASE_ENV = "POLOS_PUSH_LEASE_SECONDS"
PROBE_ENV = "POLOS_PUSH_PROBE_SECONDS"


@dataclass(frozen=True)
class PushSettings:
    #: The lease of a run pushed to an SDK worker (renewed while the worker answers).
    lease_seconds: float = 30.0
    #: Seconds between health probes (and lease renewals) of each SDK worker.
    probe_seconds: float = 1.0
    #: Seconds a push may take before the run goes back to the queue.
    push_timeout: float = 10.0

    @classmethod
    def from_env(cls) -> PushSettings:
        return cls(
            lease_seconds=_positive(LEASE_ENV, cls.lease_seconds),
            probe_seconds=_positive(PROBE_ENV, cls.probe_seconds),
        )


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def plain_json(text: str | None) -> Any:
    """Stored JSON (ours, with type tags) as the plain JSON an SDK reads."""
    if text is None:
        return None
    return to_jsonable_python(serialization.loads(text, strict=False), fallback=str)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def push_body(worker: WorkerRow, row: ExecutionRow) -> dict[str, Any]:
    """What the SDK's ``POST /execute`` reads (Polos's ``PushWorkRequest``)."""
    timeout = row.run_timeout_seconds
    return {
        "worker_id": worker.worker_id,
        "execution_id": row.id,
        "workflow_id": row.workflow_id,
        "deployment_id": row.deployment_id,
        "payload": plain_json(row.payload),
        "parent_execution_id": row.parent_execution_id,
        "root_execution_id": row.root_execution_id or row.id,
        "root_workflow_id": row.root_workflow_id or row.workflow_id,
        "step_key": row.step_key,
        # Polos counts failed attempts; ours counts every claim (a crash's too).
        "retry_count": max(0, row.attempt - 1),
        "created_at": iso(row.created_at),
        "session_id": row.session_id,
        "user_id": row.user_id,
        "otel_traceparent": row.trace_context,
        "otel_span_id": None,
        "initial_state": plain_json(row.initial_state),
        "run_timeout_seconds": None if timeout is None else max(1, int(timeout)),
        "channel_context": None,
    }


class _Refused(Exception):
    """A push the worker did not take (why, and whether its endpoint is gone)."""

    def __init__(self, why: str, *, pause: float, stale: bool = False) -> None:
        super().__init__(why)
        self.pause = pause
        self.stale = stale


class Dispatcher:
    def __init__(self, state: ServerState, settings: PushSettings | None = None) -> None:
        self.state = state
        self.settings = settings or PushSettings.from_env()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None
        #: Runs pushed and not yet seen to end: execution id -> worker id.
        self._held: dict[str, str] = {}
        #: Attempt of each held run (the lease renewed is that attempt's).
        self._attempts: dict[str, int] = {}
        self._cancel_sent: set[str] = set()
        #: When this process first knew each held run held (monotonic).
        self._since: dict[str, float] = {}
        #: Probes in a row in which a held run's worker said it runs nothing.
        self._idle_seen: dict[str, int] = {}
        self._refusals: dict[str, int] = {}
        self._paused_until: dict[str, float] = {}
        self._turn = itertools.count()
        self._refreshed = -REFRESH_SECONDS
        #: Workers with a batch of pushes in flight (one batch at a time each), and the tasks.
        self._pushing: set[str] = set()
        self._pushes: set[asyncio.Task[None]] = set()
        self._unsubscribe: Any = None

    @property
    def store(self) -> Store:
        return self.state.store

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        # SDK workers serve with uvicorn's 5 s keep-alive: an idle connection is
        # dropped here first, so a push never goes out on one being closed.
        self._http = httpx.AsyncClient(
            timeout=self.settings.push_timeout,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
        )
        self._unsubscribe = self.store.hub.on_cancel(self._on_cancelled)
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="polos-push-dispatch"),
            asyncio.create_task(self._renew_loop(), name="polos-push-leases"),
        ]

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [*self._tasks, *self._pushes]
        for task in tasks:
            task.cancel()
        # A push cut short leaves its run claimed: the lease runs out and it is requeued.
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        self._pushes.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """Look for work now (a worker came online, a run ended and freed a slot)."""
        self._wake.set()

    def ended(self, execution_id: str) -> None:
        """A held run completed, failed or parked: its worker has a free slot."""
        self._held.pop(execution_id, None)
        self._attempts.pop(execution_id, None)
        self._since.pop(execution_id, None)
        self._wake.set()

    def holder(self, execution_id: str) -> str | None:
        """The SDK worker this server pushed ``execution_id`` to, while it runs there."""
        return self._held.get(execution_id)

    # pushing ---------------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        work = self.store.hub.work_event()
        while True:
            work.clear()
            self._wake.clear()
            try:
                busy, any_workers = await self._dispatch_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pushing runs to SDK workers failed; retrying")
                busy, any_workers = False, True
            if busy:
                continue
            wait = POLL_SECONDS if any_workers else IDLE_SECONDS
            await _wait_any([work, self._wake], wait)

    async def _dispatch_round(self) -> tuple[bool, bool]:
        """Claim and push once for every ready worker; (pushed any, any workers)."""
        workers = [w for w in await push_workers(self.store) if w.online]
        if not workers:
            return False, False
        queue_of = {w.workflow_id: w.queue_name for w in await self.store.served_workflows()}
        start = next(self._turn) % len(workers)
        now_mono = time.monotonic()
        busy = False
        for worker in workers[start:] + workers[:start]:
            if worker.worker_id in self._pushing:
                continue
            if self._paused_until.get(worker.worker_id, 0.0) > now_mono:
                continue
            held = sum(1 for w in self._held.values() if w == worker.worker_id)
            free = (worker.capacity or DEFAULT_CAPACITY) - held
            if free <= 0 or not worker.serves:
                continue
            served = {wf: queue_of.get(wf, wf) for wf in worker.serves}
            claimed = await self.store.claim(
                worker.worker_id,
                served,
                min(free, BATCH),
                time.time(),
                self.settings.lease_seconds,
                deployment_id=worker.deployment_id,
                serve_deployments=worker.serve_deployments,
            )
            if not claimed:
                continue
            for c in claimed:
                self._held[c.execution.id] = worker.worker_id
                self._attempts[c.execution.id] = c.execution.attempt
                self._since[c.execution.id] = time.monotonic()
            # Pushed in the background: a slow endpoint holds up no other worker.
            self._pushing.add(worker.worker_id)
            task = asyncio.create_task(self._push_batch(worker, claimed))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)
            busy = True
        return busy, True

    async def _push_batch(self, worker: WorkerRow, claimed: list[Claimed]) -> None:
        try:
            await self._push_all(worker, claimed)
        except Exception:
            log.exception("pushing runs to SDK worker %s failed", worker.worker_id)
        finally:
            self._pushing.discard(worker.worker_id)
            self._wake.set()

    async def _push_all(self, worker: WorkerRow, claimed: list[Claimed]) -> int:
        outcomes = await asyncio.gather(
            *(self._push(worker, c.execution) for c in claimed), return_exceptions=True
        )
        pushed = 0
        pause, stale = 0.0, False
        for c, outcome in zip(claimed, outcomes, strict=True):
            if outcome is None:
                pushed += 1
                continue
            row = c.execution
            self._held.pop(row.id, None)
            self._attempts.pop(row.id, None)
            await self.store.release_execution(row.id, row.attempt, time.time())
            if isinstance(outcome, _Refused):
                pause, stale = max(pause, outcome.pause), stale or outcome.stale
                log.info("SDK worker %s did not take run %s: %s", worker.worker_id, row.id, outcome)
            else:
                pause = max(pause, 1.0)
                log.warning("pushing run %s to %s failed: %r", row.id, worker.push_url, outcome)
        if stale:
            # Its endpoint answers for another worker id: this registration is over.
            count = await self.store.requeue_worker(worker.worker_id, time.time())
            log.warning(
                "SDK worker %s at %s was replaced; %d runs requeued",
                worker.worker_id,
                worker.push_url,
                count,
            )
        elif pause:
            self._paused_until[worker.worker_id] = time.monotonic() + pause
        return pushed

    async def _push(self, worker: WorkerRow, row: ExecutionRow) -> None:
        assert self._http is not None and worker.push_url
        try:
            response = await self._http.post(
                f"{worker.push_url}/execute",
                json=push_body(worker, row),
                headers={"X-Worker-ID": worker.worker_id},
            )
        except httpx.HTTPError as exc:
            raise _Refused(
                f"its endpoint {worker.push_url} is unreachable: {exc!r}", pause=1.0
            ) from None
        if response.status_code == 200:
            return
        if response.status_code == 429:
            raise _Refused("at capacity (429)", pause=0.2)
        if response.status_code == 400 and "mismatch" in response.text.lower():
            raise _Refused("its endpoint serves another worker id", pause=1.0, stale=True)
        raise _Refused(f"{response.status_code} {response.text[:200]}", pause=1.0)

    # leases, liveness, housekeeping ----------------------------------------------------------
    async def _renew_loop(self) -> None:
        while True:
            try:
                await self._renew_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("renewing SDK workers' leases failed; retrying")
            await asyncio.sleep(self.settings.probe_seconds)

    async def _renew_round(self) -> None:
        workers = await push_workers(self.store)
        if not workers and not self._held:
            return
        # Reading the held runs is the one query of a round: not on every probe.
        if time.monotonic() - self._refreshed >= REFRESH_SECONDS:
            self._refreshed = time.monotonic()
            await self._refresh_held(workers)
        await asyncio.gather(*(self._probe(w) for w in workers if w.online))
        await self._housekeeping()

    async def _refresh_held(self, workers: list[WorkerRow]) -> None:
        """Learn from the database which runs each SDK worker holds (also those another
        server process pushed), and tell workers of the runs cancelled meanwhile."""
        # Only the SDK workers' runs, on the owner index: our own workers' are not read.
        read_at = time.monotonic()
        running = await self.store.runs_held_by([w.worker_id for w in workers])
        held = {r.execution_id: r.owner for r in running}
        attempts = {r.execution_id: r.attempt for r in running}
        for execution_id, worker_id in list(self._held.items()):
            if execution_id not in held and execution_id not in self._cancel_sent:
                row = await self.store.get_execution(execution_id)
                # The cancel signal may have come while the row was read.
                cancelled = row is not None and row.status == Status.CANCELLED
                if cancelled and self._take_cancel(execution_id):
                    await self._send_cancel(worker_id, execution_id)
        # Runs this process claimed while the read was under way are not in it:
        # dropping them would lose their lease renewals and their cancellation.
        for execution_id, worker_id in self._held.items():
            if execution_id not in held and self._since.get(execution_id, read_at) > read_at:
                held[execution_id] = worker_id
                if execution_id in self._attempts:
                    attempts[execution_id] = self._attempts[execution_id]
        self._held = held
        self._attempts = attempts
        self._cancel_sent &= set(self._held)
        now = time.monotonic()
        self._since = {k: self._since.get(k, now) for k in self._held}
        self._idle_seen = {k: v for k, v in self._idle_seen.items() if k in self._held}

    async def renew(self, worker: WorkerRow) -> None:
        """Renew ``worker``'s liveness and the leases of the runs it holds."""
        leases = [
            (execution_id, self._attempts[execution_id])
            for execution_id, owner in self._held.items()
            if owner == worker.worker_id and execution_id in self._attempts
        ]
        await self.store.heartbeat(
            worker.worker_id, leases, time.time(), self.settings.lease_seconds
        )

    async def _probe(self, worker: WorkerRow) -> None:
        assert self._http is not None
        asked = time.monotonic()
        try:
            response = await self._http.get(
                f"{worker.push_url}/health", timeout=min(2.0, self.settings.lease_seconds / 3)
            )
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            refused = self._refusals.get(worker.worker_id, 0) + 1
            self._refusals[worker.worker_id] = refused
            if refused >= DEAD_AFTER:
                await self._bury(worker)
            return
        except httpx.HTTPError:
            return  # slow: renew nothing, the leases run out if it stays so
        self._refusals.pop(worker.worker_id, None)
        if response.status_code != 200:
            return
        await self._drop_orphans(worker, response, asked)
        await self.renew(worker)

    async def _drop_orphans(self, worker: WorkerRow, health: httpx.Response, asked: float) -> None:
        """Requeue the runs a live worker holds but no longer runs.

        The SDK's ``/health`` counts the runs its push server is still executing
        (a run leaves the count only after its completion was reported). A worker
        that runs nothing, in two probes in a row, while runs pushed to it before
        those probes are still ``running`` lost them (a task that died without
        reporting): renewing their leases would keep them running forever.
        """
        try:
            idle = health.json().get("current_executions") == 0
        except (ValueError, AttributeError):
            return
        mine = [e for e, owner in self._held.items() if owner == worker.worker_id]
        for execution_id in mine:
            if not idle or self._since.get(execution_id, asked) >= asked:
                self._idle_seen.pop(execution_id, None)
                continue
            seen = self._idle_seen[execution_id] = self._idle_seen.get(execution_id, 0) + 1
            attempt = self._attempts.get(execution_id)
            if seen < 2 or attempt is None:
                continue
            self.ended(execution_id)
            self._idle_seen.pop(execution_id, None)
            if await self.store.release_execution(execution_id, attempt, time.time()):
                log.warning(
                    "SDK worker %s no longer runs run %s (it never reported it): requeued",
                    worker.worker_id,
                    execution_id,
                )

    async def _bury(self, worker: WorkerRow) -> None:
        count = await self.store.requeue_worker(worker.worker_id, time.time())
        self._refusals.pop(worker.worker_id, None)
        for execution_id, owner in list(self._held.items()):
            if owner == worker.worker_id:
                self._held.pop(execution_id, None)
                self._attempts.pop(execution_id, None)
        log.warning(
            "SDK worker %s at %s is gone (connections refused); %d runs requeued",
            worker.worker_id,
            worker.push_url,
            count,
        )

    async def _housekeeping(self) -> None:
        # Timers and schedules fire in the server's duties (duties.py); expired
        # leases are ours to reap, as an SDK-only fleet has no worker of ours to.
        expired = await self.store.requeue_expired_leases(time.time())
        if expired:
            log.info("%d runs recovered after their lease expired", expired)

    # cancellation ----------------------------------------------------------------------
    def _on_cancelled(self, execution_id: str) -> None:
        worker_id = self._held.get(execution_id)
        # On PostgreSQL the signal comes twice (in this process, then as its own
        # NOTIFY's echo), perhaps before the first send has started: taken here,
        # at once, so the worker is told once.
        if worker_id is not None and self._take_cancel(execution_id):
            task = asyncio.get_running_loop().create_task(
                self._send_cancel(worker_id, execution_id)
            )
            self._tasks.append(task)
            task.add_done_callback(self._forget_task)

    def _take_cancel(self, execution_id: str) -> bool:
        """Whether to announce ``execution_id``'s cancellation: only the first time."""
        if execution_id in self._cancel_sent:
            return False
        self._cancel_sent.add(execution_id)
        self._held.pop(execution_id, None)
        return True

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def _send_cancel(self, worker_id: str, execution_id: str) -> None:
        worker = next((w for w in await push_workers(self.store) if w.worker_id == worker_id), None)
        if worker is None or self._http is None:
            return
        try:
            response = await self._http.post(
                f"{worker.push_url}/cancel/{execution_id}",
                headers={"X-Worker-ID": worker_id},
                timeout=30,
            )
            log.info(
                "cancellation of run %s sent to SDK worker %s: %s",
                execution_id,
                worker_id,
                response.status_code,
            )
        except httpx.HTTPError as exc:
            # The run is cancelled in the store already: the worker's next write is refused.
            log.warning(
                "could not tell SDK worker %s of cancelled run %s: %r", worker_id, execution_id, exc
            )


async def push_workers(store: Store) -> list[WorkerRow]:
    """Every registered worker that is sent its runs over HTTP (an SDK worker)."""
    return [w for w in await store.list_workers() if w.push_url]


async def _wait_any(events: list[asyncio.Event], timeout: float) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def dispatcher_of(state: ServerState) -> Dispatcher:
    """The server's dispatcher (the app starts and stops it)."""
    return state.dispatcher
