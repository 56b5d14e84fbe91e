"""Events: publish to topics, read them back as streams.

``events.publish(client, topic, EventData(...))`` appends to a durable
per-topic log with increasing sequence ids. Waiting runs
(``ctx.step.wait_for_event``) and event-triggered workflows see it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .runtime.client import event_payload, store_of
from .store import FINAL_STATUSES
from .types import EventData, EventPayload, workflow_topic

_POLL = 0.25


async def publish(
    client: Any, topic: str, event: EventData | None = None, **kwargs: Any
) -> EventPayload:
    """Publish one event: ``publish(client, "orders", EventData(event_type="paid", data={...}))``."""
    if event is None:
        event = EventData(**kwargs)
    elif kwargs:
        raise TypeError("pass either an EventData or event_type=/data= keywords, not both")
    [published] = await batch_publish(client, topic, [event])
    return published


async def batch_publish(client: Any, topic: str, events: Sequence[EventData]) -> list[EventPayload]:
    """Publish several events to one topic in one transaction, in order."""
    result: list[EventPayload] = await client.batch_publish(topic, events)
    return result


async def stream_topic(
    client: Any, topic: str, last_sequence_id: int | None = None
) -> AsyncIterator[EventPayload]:
    """Every event on ``topic`` after ``last_sequence_id`` (all of them when ``None``),
    then each new one as it is published. Runs until the consumer stops."""
    store = await store_of(client)
    after = last_sequence_id or 0
    published = store.hub.events_event()
    while True:
        published.clear()
        rows = await store.read_events(topic, after, 100)
        for row in rows:
            after = row.seq
            yield event_payload(row)
        if not rows:
            await _wait(published, _POLL)


async def stream_workflow(
    client: Any, workflow_id: str, execution_id: str
) -> AsyncIterator[EventPayload]:
    """Events published to one execution's own topic (``ctx.topic``), from the start;
    ends once the execution has finished and every event was delivered."""
    store = await store_of(client)
    topic, after = workflow_topic(execution_id), 0
    published = store.hub.events_event()
    while True:
        published.clear()
        row = await store.get_execution(execution_id)
        if row is None or row.workflow_id != workflow_id:
            from .errors import ExecutionNotFoundError

            raise ExecutionNotFoundError(execution_id)
        finished = row.status in FINAL_STATUSES
        rows = await store.read_events(topic, after, 100)
        for event in rows:
            after = event.seq
            yield event_payload(event)
        if finished and not rows:
            return
        if not rows:
            await _wait(published, _POLL)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
