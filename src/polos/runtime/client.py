"""``PolosClient``: submit, inspect, await and cancel executions."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .. import serialization
from ..durations import utc_datetime
from ..engine.clock import SYSTEM_CLOCK, Clock
from ..engine.run import DEFAULT_MAX_PAYLOAD_BYTES
from ..engine.submission import handle_of, prepare_executions
from ..errors import (
    ExecutionCancelledError,
    ExecutionNotFoundError,
    PolosError,
    WorkflowFailedError,
    WorkflowTimeoutError,
)
from ..observability.tracing import current_traceparent
from ..store import FINAL_STATUSES, Store, store_from_url
from ..store.payloads import event_json
from ..store.records import EventRow, NewEvent, NewExecution
from ..store.vocabulary import Status, WaitKind
from ..types import (
    BatchWorkflowInput,
    EventData,
    EventPayload,
    ExecutionHandle,
    QueueStats,
    SuspendInfo,
    check_topic,
    suspend_topic,
)
from .current import forbid_inside_workflow
from .deployments import served_for
from .finish_watch import watch_finishes
from .models import ExecutionInfo, execution_info
from .settings import resolve_settings

if TYPE_CHECKING:
    from ..engine.definition import WorkflowDefinition

#: A waiter's own safety-net poll: every run's end is signalled to it, by the
#: store (``Store.finishes_signalled``) or by this process's one poll for all
#: waiters (:mod:`.finish_watch`); thousands of runs awaited at once must not
#: read their rows back every quarter second.
_POLL_SAFETY = 5.0


class LocalStarter(Protocol):
    """A worker in this process that may start the runs its client submits
    (eager start, see ``Worker.create_executions``)."""

    async def create_executions(self, news: Sequence[NewExecution]) -> list[str]: ...


@runtime_checkable
class ClientLike(Protocol):
    """What a workflow's ``invoke``/``run`` need: a ``PolosClient`` or a ``Polos``."""

    async def invoke(
        self, workflow_id: Any, payload: Any = None, *args: Any, **options: Any
    ) -> ExecutionHandle: ...
    async def wait_for_result(self, execution_id: str, timeout: float | None = 600.0) -> Any: ...
    async def get_execution(self, execution_id: str) -> ExecutionInfo: ...
    async def cancel_execution(self, execution_id: str) -> bool: ...


class PolosClient:
    """Talks to the Polos database directly (embedded SQLite or PostgreSQL), or to a
    ``polos server`` when given an ``api_url`` and no database URL (see
    :mod:`polos.runtime.remote`).

    ``PolosClient()`` uses ``database_url=``, else ``POLOS_DATABASE_URL``, else
    the embedded default ``./.polos/polos.db``. The positional arguments are
    Polos's own (``api_url, api_key, project_id, deployment_id``; see
    :mod:`polos.runtime.settings` for what each means here). The store opens on first use; ``await
    client.close()`` (or ``async with``) releases it.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> PolosClient:
        # An api_url and no database: the same client over a server's HTTP API.
        from .remote import RemotePolosClient, wants_remote

        if cls is PolosClient and wants_remote(args, kwargs):
            return super().__new__(RemotePolosClient)
        return super().__new__(cls)

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        project_id: str | None = None,
        deployment_id: str | None = None,
        *,
        database_url: str | None = None,
        store: Store | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        settings = resolve_settings(
            database_url=database_url,
            project_id=project_id,
            api_url=api_url,
            api_key=api_key,
            deployment_id=deployment_id,
        )
        self.database_url = settings.database_url
        self.project_id = settings.project_id
        #: The deployment runs this client starts are pinned to: only when told one
        #: (argument or POLOS_DEPLOYMENT_ID); else a run takes the deployment of the
        #: worker that first claims it (see docs/durability.md).
        self.pinned_deployment_id = deployment_id or os.environ.get("POLOS_DEPLOYMENT_ID") or None
        #: As in Polos: the deployment this client was told, else None ("latest").
        self.deployment_id: str | None = self.pinned_deployment_id
        self.api_key = settings.api_key
        #: Polos's orchestrator address; here only Polos's local default is accepted.
        self.api_url = settings.api_url
        self._store = store if store is not None else store_from_url(self.database_url)
        self._opened = False
        self._open_lock: asyncio.Lock | None = None
        self.max_payload_bytes = max_payload_bytes
        #: The engine's clock: what submitted runs, events and cancellations are stamped with.
        self.clock: Clock = SYSTEM_CLOCK
        #: The worker started on this client, if any: it inserts the runs it may
        #: start at once already claimed (set and cleared by the worker).
        self.local_worker: LocalStarter | None = None

    @property
    def store(self) -> Store:
        return self._store

    async def start(self) -> None:
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                await self._store.open()
                self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self._store.close()
            self._opened = False

    async def __aenter__(self) -> PolosClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ready(self) -> Store:
        if not self._opened:
            await self.start()
        return self._store

    # submitting -----------------------------------------------------------------------
    async def invoke(
        self,
        workflow_id: str | WorkflowDefinition,
        payload: Any = None,
        queue_name: str | None = None,
        queue_concurrency_limit: int | None = None,
        concurrency_key: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        initial_state: Any = None,
        run_timeout_seconds: float | None = None,
        *,
        queue: Any = None,
        priority: int = 0,
        idempotency_key: str | None = None,
    ) -> ExecutionHandle:
        """Queue a run of a workflow (its id or the workflow object); returns at once.

        The positional arguments are Polos's. ``queue_name`` (with
        ``queue_concurrency_limit``) or ``queue`` (a name, a ``Queue`` or a
        dict) overrides the workflow's queue; ``concurrency_key`` gives the run
        its own limit within the queue (per tenant, per user...); ``priority``
        orders starts within a queue; ``idempotency_key`` makes a second invoke
        with the same key return the first execution.
        """
        forbid_inside_workflow("invoke()")
        if queue_name is not None or queue_concurrency_limit is not None:
            if queue is not None:
                raise TypeError("pass either queue= or queue_name=/queue_concurrency_limit=")
            queue = {"concurrency_limit": queue_concurrency_limit}
            if queue_name is not None:
                queue["name"] = queue_name
        item = BatchWorkflowInput(
            id=workflow_id,
            payload=payload,
            session_id=session_id,
            user_id=user_id,
            initial_state=initial_state,
            run_timeout_seconds=run_timeout_seconds,
            queue=queue,
            concurrency_key=concurrency_key,
            priority=priority,
            idempotency_key=idempotency_key,
        )
        [handle] = await self.batch_invoke([item])
        return handle

    async def batch_invoke(
        self,
        workflows: Sequence[BatchWorkflowInput],
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> list[ExecutionHandle]:
        """Queue several runs in one transaction; handles in input order. ``session_id``
        and ``user_id`` apply to the runs that name none of their own."""
        forbid_inside_workflow("batch_invoke()")
        items = [
            item.model_copy(
                update={
                    "session_id": item.session_id or session_id,
                    "user_id": item.user_id or user_id,
                }
            )
            if session_id or user_id
            else item
            for item in workflows
        ]
        store = await self._ready()
        news = await prepare_executions(
            store,
            items,
            clock=self.clock,
            max_payload_bytes=self.max_payload_bytes,
            deployment_id=self.pinned_deployment_id,
        )
        caller = current_traceparent()
        if caller is not None:  # started inside a traced request: the runs join its trace
            for new in news:
                new.trace_context = caller
        local = self.local_worker
        fresh = [n.id for n in news]
        store.hub.expect_new(fresh)
        try:
            if local is not None:
                ids = await local.create_executions(news)
            else:
                ids = await store.create_executions(news)
        except BaseException:
            store.hub.forget_new(fresh)
            raise
        # An idempotency key found an earlier run: the new id was never inserted.
        store.hub.forget_new(
            n.id for execution_id, n in zip(ids, news, strict=True) if execution_id != n.id
        )
        return [
            handle_of(n, execution_id).bind(self) for execution_id, n in zip(ids, news, strict=True)
        ]

    async def batch_agent_invoke(self, invocations: Sequence[Any]) -> list[ExecutionHandle]:
        """Queue several agent runs (``agent.with_input(...)``) in one transaction."""
        return await self.batch_invoke([i.as_batch_input() for i in invocations])

    def _encode(self, what: str, value: Any) -> str:
        return serialization.dumps_limited(what, value, self.max_payload_bytes)

    async def run(
        self,
        workflow: str | WorkflowDefinition,
        payload: Any = None,
        *,
        timeout: float | None = 600.0,
        **options: Any,
    ) -> Any:
        """Invoke and wait for the result; raises the workflow's failure."""
        forbid_inside_workflow("run()")
        handle = await self.invoke(workflow, payload, **options)
        return await self.wait_for_result(handle.id, timeout=timeout)

    # queues ---------------------------------------------------------------------------
    async def queue_stats(self, max_keys: int | None = None) -> list[QueueStats]:
        """Per queue: its limits, and how many executions are queued, running and
        waiting, in all and per concurrency key.

        ``max_keys`` bounds ``by_key`` to that many keys per queue, those with
        the most active executions (a queue keyed per user can have a million);
        ``key_count`` still tells how many there are."""
        if max_keys is not None and max_keys < 0:
            raise ValueError(f"max_keys must be 0 or more (or None for every key), not {max_keys}")
        store = await self._ready()
        stats: dict[str, QueueStats] = {
            q.name: QueueStats(
                name=q.name,
                concurrency_limit=q.concurrency_limit,
                rate_limit=q.rate_limit,
                rate_period=q.rate_period,
            )
            for q in await store.list_queues()
        }
        for count in await store.queue_counts(max_keys):
            entry = stats.setdefault(count.queue_name, QueueStats(name=count.queue_name))
            if count.concurrency_key is None:
                entry.queued, entry.running, entry.waiting = (
                    count.queued,
                    count.running,
                    count.waiting,
                )
                entry.key_count = count.key_count or 0
            else:
                statuses = (
                    ("queued", count.queued),
                    ("running", count.running),
                    ("waiting", count.waiting),
                )
                entry.by_key[count.concurrency_key] = {s: n for s, n in statuses if n}
        return sorted(stats.values(), key=lambda s: s.name)

    # events and humans ---------------------------------------------------------------
    async def publish(
        self, topic: str, data: Any = None, event_type: str | None = None
    ) -> EventPayload:
        """Append one event to ``topic``; waiting runs and triggers see it at once."""
        [event] = await self.batch_publish(topic, [EventData(event_type=event_type, data=data)])
        return event

    async def batch_publish(self, topic: str, events: Sequence[EventData]) -> list[EventPayload]:
        check_topic(topic)
        now = self.clock.now()
        news = [
            NewEvent(
                str(uuid.uuid4()),
                topic,
                e.event_type,
                self._encode(f"event data on {topic!r}", e.data),
                now,
            )
            for e in events
        ]
        relayed = [relay for new in news if (relay := _resume_relay(new)) is not None]
        store = await self._ready()
        rows = await store.publish_events(news + relayed, now) or []
        return [event_payload(row) for row in rows[: len(news)]]

    async def resume(
        self,
        suspend_workflow_id: str,
        suspend_execution_id: str,
        suspend_step_key: str,
        data: Any = None,
    ) -> EventPayload:
        """Resume a run paused at ``ctx.step.suspend``. A resume sent before the run
        reaches its suspend is kept and delivered when it gets there."""
        store = await self._ready()
        row = await store.get_execution(suspend_execution_id)
        if row is None:
            raise ExecutionNotFoundError(suspend_execution_id)
        if suspend_workflow_id not in (row.workflow_id, row.root_workflow_id):
            raise PolosError(
                f"execution {suspend_execution_id} runs workflow {row.workflow_id!r}, "
                f"not {suspend_workflow_id!r}; check the ids passed to resume()"
            )
        if row.status in FINAL_STATUSES:
            raise PolosError(
                f"execution {suspend_execution_id} is already {row.status}; there is nothing to resume"
            )
        # Polos addresses a resume by the run tree's root; a run's own id works too.
        root = row.root_execution_id or row.id
        return await self.publish(suspend_topic(root, suspend_step_key), data, "resume")

    async def list_suspended(self, workflow_id: str | None = None) -> list[SuspendInfo]:
        """Runs paused at ``ctx.step.suspend``, oldest first, with the data they show."""
        store = await self._ready()
        return [
            SuspendInfo(
                execution_id=row.id,
                workflow_id=row.workflow_id,
                step_key=row.wait_step_key or "",
                data=serialization.loads(row.wait_data, strict=False),
                since=utc_datetime(row.updated_at),
                timeout_at=utc_datetime(row.wake_at) if row.wake_at else None,
                session_id=row.session_id,
                user_id=row.user_id,
            )
            for row in await store.list_waits(WaitKind.SUSPEND, workflow_id)
        ]

    # inspecting -------------------------------------------------------------------
    async def get_execution(self, execution_id: str) -> ExecutionInfo:
        store = await self._ready()
        row = await store.get_execution(execution_id)
        if row is None:
            raise ExecutionNotFoundError(execution_id)
        steps = await store.list_steps(execution_id)
        history = await store.list_history(execution_id)
        return execution_info(row, steps, history, await served_for(store, [row], self.clock.now()))

    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[ExecutionInfo]:
        """Newest first; ``offset`` pages on, ``created_after`` (inclusive) and
        ``created_before`` (exclusive) bound the creation time."""
        store = await self._ready()
        rows = await store.list_executions(
            status=status,
            workflow_id=workflow_id,
            limit=limit,
            offset=offset,
            created_after=None if created_after is None else _epoch(created_after),
            created_before=None if created_before is None else _epoch(created_before),
        )
        served = await served_for(store, rows, self.clock.now())
        return [execution_info(row, served=served) for row in rows]

    async def wait_for_result(self, execution_id: str, timeout: float | None = 600.0) -> Any:
        """Wait until the execution finishes; return its result or raise its error."""
        store = await self._ready()
        hub = store.hub
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while True:
            finished = hub.finished_future(execution_id)
            try:
                kept = hub.completed_result(execution_id)
                if kept is not None:  # completed by this process: no need to read it back
                    return serialization.loads(kept, strict=False)
                # A run a worker here executes, or one this process just submitted
                # whose end it has not heard of, has not ended: its end will wake
                # ``finished``. Later turns read, in case a signal was lost.
                if not (
                    first
                    and (hub.executing_here(execution_id) or hub.new_and_unended(execution_id))
                ):
                    row = await store.get_execution(execution_id)
                    if row is None:
                        raise ExecutionNotFoundError(execution_id)
                    if row.status in FINAL_STATUSES:
                        return _outcome(row.id, row.status, row.result, row.error)
                first = False
                if not store.finishes_signalled:
                    watch_finishes(store)
                wait = _POLL_SAFETY
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise WorkflowTimeoutError(execution_id, timeout or 0)
                    wait = min(wait, remaining)
                # Woken at once by a worker in this process, else by a signal or the poll.
                await asyncio.wait([finished], timeout=wait)
            finally:
                hub.discard_future(execution_id, finished)

    # cancelling -------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str) -> bool:
        """Cancel a queued, waiting or running execution and its children.

        Returns whether the execution is now cancelled (as Polos returns a
        bool): ``False`` for one that had already completed or failed, which is
        left as it was. A running execution is marked ``cancelled`` at once and
        stops at its next step boundary.
        """
        store = await self._ready()
        row = await store.cancel_execution(execution_id, self.clock.now())
        if row is None:
            raise ExecutionNotFoundError(execution_id)
        return row.status == Status.CANCELLED

    # retry and fork (see polos.runtime.operations) ------------------------------------
    async def retry_execution(self, execution_id: str) -> ExecutionHandle:
        """Start a failed or cancelled run again, under the same id, from its first
        unfinished step: recorded steps replay, failed steps run anew, and children
        it waited for that failed are retried with it. Raises
        ``ExecutionNotRetryableError`` for a run in any other status."""
        from . import operations

        forbid_inside_workflow("retry_execution()")
        store = await self._ready()
        return (await operations.retry(store, self.clock, execution_id)).bind(self)

    async def fork_execution(
        self, execution_id: str, from_step: str, payload: Any = None
    ) -> ExecutionHandle:
        """Start a new run of the same workflow that reuses the steps ``execution_id``
        recorded before ``from_step`` and runs the rest anew, with ``payload`` (else
        the source's). An unknown step raises ``UnknownStepKeyError`` naming the keys."""
        from . import operations

        forbid_inside_workflow("fork_execution()")
        store = await self._ready()
        handle = await operations.fork(
            store,
            self.clock,
            execution_id,
            from_step,
            payload,
            max_payload_bytes=self.max_payload_bytes,
            deployment_id=self.pinned_deployment_id,
        )
        return handle.bind(self)

    async def retry_failed(
        self,
        workflow_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        error_contains: str | None = None,
        limit: int = 1000,
    ) -> list[ExecutionHandle]:
        """Retry every failed run of ``workflow_id`` that failed in [``since``,
        ``until``) and whose error holds ``error_contains``, oldest failure first
        (at most ``limit``); returns the runs retried."""
        from . import operations

        forbid_inside_workflow("retry_failed()")
        which = operations.FailedFilter(workflow_id, since, until, error_contains, limit)
        store = await self._ready()
        return [h.bind(self) for h in await operations.retry_failed(store, self.clock, which)]


def _resume_relay(event: NewEvent) -> NewEvent | None:
    """Polos resumes a suspend by publishing ``resume_<step_key>`` on the run tree's
    topic (``workflow/<root wf>/<root run>``): what Polos's own clients and approval
    tools send. Such an event is also delivered, in the same transaction, to the
    topic the suspend listens on, so it resumes the run here too."""
    kind = event.event_type or ""
    parts = event.topic.split("/")
    if not kind.startswith("resume_") or len(parts) != 3 or parts[0] != "workflow":
        return None
    step_key = kind[len("resume_") :]
    return NewEvent(
        str(uuid.uuid4()), suspend_topic(parts[2], step_key), "resume", event.data, event.created_at
    )


async def store_of(client: Any) -> Store:
    """The opened store behind a ``PolosClient`` or a ``Polos``."""
    target = getattr(client, "client", client)
    store: Store = await target._ready()
    return store


def event_payload(row: EventRow) -> EventPayload:
    return EventPayload.model_validate(serialization.loads(event_json(row), strict=False))


def _outcome(execution_id: str, status: str, result: str | None, error: str | None) -> Any:
    if status == Status.COMPLETED:
        return serialization.loads(result, strict=False)
    if status == Status.CANCELLED:
        raise ExecutionCancelledError(execution_id)
    import orjson

    raise WorkflowFailedError(execution_id, orjson.loads(error) if error else None)


def _epoch(moment: datetime) -> float:
    """A datetime as epoch seconds; a naive one is taken as UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
