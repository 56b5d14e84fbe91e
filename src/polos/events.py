"""Events: publish to topics and follow topics or whole run trees, as Polos does.

``events.publish(client, topic, EventData(...))`` appends to a durable
per-topic log and returns the event's sequence id; waiting runs
(``ctx.step.wait_for_event``) and event-triggered workflows see it at once.

``events.stream_workflow(client, workflow_id, run_id)`` follows a whole run
tree (the root and every child, agent and tool under it) and yields
:class:`StreamEvent` s with Polos's event types:

- what the tree publishes on its shared topic (``ctx.topic``):
  ``suspend_<step_key>``, an agent's ``text_delta`` / ``tool_call``,
  ``ctx.step.publish_workflow_event``;
- lifecycle events read from the store, costing the running workflows
  nothing: ``step_start`` / ``step_finish`` for each ``ctx.step.run``, and
  ``workflow_finish`` / ``agent_finish`` / ``tool_finish`` when a run ends
  (``data["result"]``; failed or cancelled runs also carry ``data["status"]``
  and ``data["error"]``), each with ``data["_metadata"]`` naming the run.

The stream ends once the root run has finished and everything was delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_jsonable_python

from . import serialization
from .engine import definition as registry
from .engine.steps_events import ANNOUNCE_SUFFIX
from .errors import ExecutionNotFoundError, PolosError
from .runtime.client import store_of
from .runtime.remote import remote_client
from .store import FINAL_STATUSES, ExecutionRow, Status, StepKind, Store
from .store.records import EventRow
from .types import EventData, EventPayload, StreamEvent, suspend_topic, workflow_topic

_POLL = 0.25
_PAGE = 100
#: Step kinds that announce themselves as ``step_start`` / ``step_finish`` (as in Polos).
_ANNOUNCED_STEP_KINDS = frozenset({StepKind.RUN})

__all__ = [
    "EventData",
    "EventPayload",
    "StreamEvent",
    "batch_publish",
    "publish",
    "stream_topic",
    "stream_workflow",
]


async def publish(
    client: Any,
    topic: str,
    event_data: EventData | None = None,
    execution_id: str | None = None,
    root_execution_id: str | None = None,
    *,
    event_type: str | None = None,
    data: Any = None,
) -> int:
    """Publish one event and return its sequence id.

    ``publish(client, "orders", EventData(event_type="paid", data={...}))`` or
    with keywords ``event_type=`` / ``data=``. ``execution_id`` and
    ``root_execution_id`` are accepted for Polos code; the log does not need them.
    """
    if event_data is None:
        event_data = EventData(event_type=event_type, data=data)
    elif event_type is not None or data is not None:
        raise TypeError("pass either event_data=EventData(...) or event_type=/data=, not both")
    [sequence_id] = await batch_publish(client, topic, [event_data])
    return sequence_id


async def batch_publish(
    client: Any,
    topic: str,
    events: Sequence[EventData],
    execution_id: str | None = None,
    root_execution_id: str | None = None,
) -> list[int]:
    """Publish several events to one topic in one transaction, in order; their sequence ids."""
    del execution_id, root_execution_id  # Polos's call shape; nothing here needs them
    if not events:
        return []
    published: list[EventPayload] = await client.batch_publish(topic, events)
    return [event.sequence_id for event in published]


async def stream_topic(
    client: Any,
    topic: str,
    last_sequence_id: int | None = None,
    last_timestamp: datetime | None = None,
) -> AsyncIterator[StreamEvent]:
    """Events on ``topic`` after ``last_sequence_id`` (else after ``last_timestamp``,
    else from now on), then each new one as it is published. Runs until the
    consumer stops."""
    if (remote := remote_client(client)) is not None:
        async for event in remote.stream_topic(topic, last_sequence_id, last_timestamp):
            yield event
        return
    store = await store_of(client)
    after = (
        last_sequence_id
        if last_sequence_id is not None
        else await _start_of(store, topic, None, last_timestamp)
    )
    published = store.hub.events_event()
    while True:
        published.clear()
        rows = await store.read_events(topic, after, _PAGE)
        for row in rows:
            after = row.seq
            yield stream_event(row)
        if not rows:
            await _wait(published, _POLL)


async def stream_workflow(
    client: Any,
    workflow_id: str,
    workflow_run_id: str,
    last_sequence_id: int | None = None,
    last_timestamp: datetime | None = None,
) -> AsyncIterator[StreamEvent]:
    """Every event of the run tree that ``workflow_run_id`` belongs to (see the module doc).

    Without ``last_sequence_id`` or ``last_timestamp`` the stream starts from
    now, as in Polos, but never misses what is still current: a suspend the
    tree is waiting at is announced again, and a root that already finished
    yields its finish event (then the stream ends). ``last_sequence_id=0``
    replays the run from its start. ``workflow_id`` must be the run's workflow
    or its root's (``handle.root_workflow_id``).

    Over a server (a remote client), a stream without either starts at the
    run's beginning, as Polos's server does.
    """
    if (remote := remote_client(client)) is not None:
        stream = remote.stream_workflow(
            workflow_id, workflow_run_id, last_sequence_id, last_timestamp
        )
        async for event in stream:
            yield event
        return
    store = await store_of(client)
    row = await store.get_execution(workflow_run_id)
    if row is None:
        raise ExecutionNotFoundError(workflow_run_id)
    if workflow_id not in (row.workflow_id, row.root_workflow_id):
        raise PolosError(
            f"run {workflow_run_id} belongs to workflow {row.workflow_id!r}, not "
            f"{workflow_id!r}; pass handle.root_workflow_id and handle.id"
        )
    follower = _TreeFollower(store, row.root_execution_id or row.id)
    follower.topic = workflow_topic(row.root_workflow_id or row.workflow_id, follower.root_id)
    if last_sequence_id is not None:
        follower.after = last_sequence_id
        if last_sequence_id > 0:
            follower.since = await _time_of(store, follower.topic, last_sequence_id)
    elif last_timestamp is not None:
        follower.since = _epoch(last_timestamp)
        follower.after = await _start_of(store, follower.topic, None, last_timestamp)
    else:
        await follower.start_now()
    async for event in follower.follow():
        yield event


class _TreeFollower:
    """Reads a run tree's topic and its runs' steps and outcomes, in time order."""

    def __init__(self, store: Store, root_id: str) -> None:
        self.store = store
        self.root_id = root_id
        self.topic = ""
        self.after = 0  # the last topic event delivered
        self.since: float | None = None  # lifecycle events at or before this are skipped
        self._seen_steps: dict[str, set[str]] = {}
        self._finished: set[str] = set()
        self.backlog: list[StreamEvent] = []
        self.done = False

    async def start_now(self) -> None:
        """Start from now, as Polos does, plus what is still current: the announcement
        of each suspend the tree waits at (so a consumer that asks just after the run
        got there still sees it) and the root's finish if it has already finished."""
        self.since = time.time()
        # The topic's position is taken before the steps are read: an announcement
        # committed in between is then either below it and in ``pending``, or above
        # it and delivered by ``follow``, never passed over unseen.
        position = await self.store.topic_position(self.topic)
        tree = await self.store.list_run_tree(self.root_id)
        # A suspend is current when its announcement is recorded and its answer is
        # not (the run may still be on its way from the announcement to the wait).
        pending: set[str] = set()
        for run in tree:
            if run.status in FINAL_STATUSES:
                continue
            keys = {step.step_key for step in await self.store.list_steps(run.id)}
            for key in keys:
                suspend_key = key[: -len(ANNOUNCE_SUFFIX)]
                if not key.endswith(ANNOUNCE_SUFFIX) or suspend_key in keys:
                    continue
                # Answered but not yet taken: the resume is published and the run is
                # on its way to record it. Announcing it again would show a consumer
                # that starts now (to wait for the next suspend) the one just answered.
                if await self.store.topic_position(suspend_topic(self.root_id, suspend_key)):
                    continue
                pending.add(f"suspend_{suspend_key}")
        latest: dict[str, EventRow] = {}
        while self.after < position:  # one pass up to it; later reads go by sequence id
            rows = await self.store.read_events(self.topic, self.after, 500)
            for event in rows:
                if event.seq > position:
                    break
                if event.event_type in pending:
                    latest[event.event_type] = event
            self.after = min(position, rows[-1].seq) if rows else position
        self.backlog = [stream_event(e) for e in sorted(latest.values(), key=lambda e: e.seq)]
        root = next((run for run in tree if run.id == self.root_id), None)
        if root is not None and root.status in FINAL_STATUSES:
            self.backlog.append(self._finish_event(root, root.completed_at or root.updated_at))
            self._finished.add(root.id)
            self.done = True

    async def follow(self) -> AsyncIterator[StreamEvent]:
        for event in self.backlog:
            yield event
        if self.done:
            return
        published = self.store.hub.events_event()
        while True:
            published.clear()
            rows = await self.store.read_events(self.topic, self.after, _PAGE)
            tree = await self.store.list_run_tree(self.root_id)
            batch = [(row.created_at, stream_event(row)) for row in rows]
            if rows:
                self.after = rows[-1].seq
            for run in tree:
                batch.extend(await self._lifecycle(run))
            batch.sort(key=lambda pair: pair[0])
            for _, event in batch:
                yield event
            root = next((r for r in tree if r.id == self.root_id), None)
            if root is None or (root.status in FINAL_STATUSES and not batch):
                return
            if len(rows) < _PAGE:
                await _wait(published, _POLL)

    async def _lifecycle(self, run: ExecutionRow) -> list[tuple[float, StreamEvent]]:
        """Step and finish events of one run not delivered yet."""
        if run.id in self._finished:
            return []
        out: list[tuple[float, StreamEvent]] = []
        seen = self._seen_steps.setdefault(run.id, set())
        finished = run.status in FINAL_STATUSES  # read before the steps: none can follow
        for step in await self.store.list_steps(run.id):
            if step.step_key in seen or step.kind not in _ANNOUNCED_STEP_KINDS:
                continue
            seen.add(step.step_key)
            if self.since is not None and step.created_at <= self.since:
                continue
            meta = {"execution_id": run.id, "workflow_id": run.workflow_id}
            base = {"step_key": step.step_key, "step_type": step.kind, "_metadata": meta}
            output = serialization.loads(step.output, strict=False) if step.output else None
            finish_data = {**base, "data": {"result": _plain(output)}}
            if step.error:
                finish_data["error"] = serialization.loads(step.error, strict=False)
            for kind, data in (("step_start", {**base, "data": {}}), ("step_finish", finish_data)):
                out.append(
                    (
                        step.created_at,
                        self._synthetic(f"{run.id}:{step.step_key}:{kind}", kind, data, step),
                    )
                )
        if finished:
            self._finished.add(run.id)
            at = run.completed_at or run.updated_at
            if self.since is None or at > self.since:
                out.append((at, self._finish_event(run, at)))
        return out

    def _finish_event(self, run: ExecutionRow, at: float) -> StreamEvent:
        definition = registry.lookup(run.workflow_id)
        kind = definition.kind if definition is not None else "workflow"
        data: dict[str, Any] = {
            "result": _plain(serialization.loads(run.result, strict=False)) if run.result else None,
            "_metadata": {"execution_id": run.id, "workflow_id": run.workflow_id},
        }
        if run.status != Status.COMPLETED:
            data["status"] = run.status
            data["error"] = serialization.loads(run.error, strict=False) if run.error else None
        return StreamEvent(
            id=f"{run.id}:finish",
            sequence_id=self.after,
            topic=self.topic,
            event_type=f"{kind}_finish",
            data=data,
            created_at=datetime.fromtimestamp(at, UTC).isoformat(),
        )

    def _synthetic(self, id: str, kind: str, data: dict[str, Any], step: Any) -> StreamEvent:
        return StreamEvent(
            id=id,
            sequence_id=self.after,
            topic=self.topic,
            event_type=kind,
            data=data,
            created_at=datetime.fromtimestamp(step.created_at, UTC).isoformat(),
        )


def stream_event(row: EventRow) -> StreamEvent:
    data = serialization.loads(row.data, strict=False)
    return StreamEvent(
        id=row.id,
        sequence_id=row.seq,
        topic=row.topic,
        event_type=row.event_type,
        data=_plain(data),
        created_at=datetime.fromtimestamp(row.created_at, UTC).isoformat(),
    )


def _plain(value: Any) -> Any:
    """JSON-shaped data (dicts, lists, strings...), as a Polos stream consumer gets it."""
    return to_jsonable_python(value, fallback=str)


async def _start_of(
    store: Store, topic: str, last_sequence_id: int | None, last_timestamp: datetime | None
) -> int:
    """The sequence id after which a stream starts: the last event published at or
    before ``last_timestamp``, else (no timestamp) the last event so far."""
    if last_sequence_id is not None:
        return last_sequence_id
    since = _epoch(last_timestamp) if last_timestamp is not None else None
    return await store.topic_position(topic, since)


async def _time_of(store: Store, topic: str, seq: int) -> float | None:
    rows = await store.read_events(topic, seq - 1, 1)
    return rows[0].created_at if rows and rows[0].seq == seq else None


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
