"""Event triggers: each event on a topic (or each batch) starts exactly one run.

A trigger consumes its topic from a cursor stored with it; starting the runs
and advancing the cursor is one compare-and-set transaction, so every event
starts one run however many workers fire triggers, including events published
while no worker ran. A new trigger starts after the last event published
before it was first registered.

Payloads: with ``batch_size=1`` the workflow receives the ``EventPayload``;
with a larger batch it receives a ``BatchEventPayload`` whose ``events`` hold
up to ``batch_size`` events (Polos's shapes). A partial batch starts a run once its oldest event is
``batch_timeout_seconds`` old (never, with no timeout).
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import serialization
from ..store import Store
from ..store.payloads import event_json
from ..store.records import EventRow, NewExecution, TriggerRow
from ..types import BatchEventPayload, EventItem, EventPayload
from .definition import queue_name_of


async def fire_triggers(store: Store, now: float) -> int:
    started = 0
    for trigger in await store.list_triggers():
        started += await _fire_one(store, trigger, now)
    return started


async def _fire_one(store: Store, trigger: TriggerRow, now: float) -> int:
    events = await store.read_events(
        trigger.topic, trigger.cursor, limit=max(100, trigger.batch_size * 10)
    )
    batches = _ready_batches(events, trigger, now)
    if not batches:
        return 0
    runs = [_execution(trigger, batch, now) for batch in batches]
    if await store.fire_trigger(
        trigger.workflow_id, trigger.topic, trigger.cursor, batches[-1][-1].seq, runs, now
    ):
        return len(runs)
    return 0


def _ready_batches(events: list[EventRow], trigger: TriggerRow, now: float) -> list[list[EventRow]]:
    size = trigger.batch_size
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    if batches and len(batches[-1]) < size:
        timeout = trigger.batch_timeout_seconds
        if timeout is None or now - batches[-1][0].created_at < timeout:
            batches.pop()
    return batches


def _execution(trigger: TriggerRow, batch: list[EventRow], now: float) -> NewExecution:
    payloads = [EventPayload.model_validate(serialization.loads(event_json(e))) for e in batch]
    payload: Any = (
        payloads[0]
        if trigger.batch_size == 1
        else BatchEventPayload(events=[EventItem.model_validate(p.model_dump()) for p in payloads])
    )
    return NewExecution(
        id=str(uuid.uuid4()),
        workflow_id=trigger.workflow_id,
        payload=serialization.dumps(payload),
        created_at=now,
        queue_name=queue_name_of(trigger.workflow_id),
    )
