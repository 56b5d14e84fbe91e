"""Reading a topic's log: where a reader starts, and events in their JSON form."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic_core import to_jsonable_python

from ..runtime.client import event_payload
from ..store import Store
from ..store.records import EventRow
from .models import EventOut


async def start_after(
    store: Store, topic: str, last_sequence_id: int | None, last_timestamp: datetime | None
) -> int:
    """The sequence id a reader of ``topic`` starts after: ``last_sequence_id``, else
    the last event published at or before ``last_timestamp``, else 0 (the start)."""
    if last_sequence_id is not None:
        return last_sequence_id
    if last_timestamp is None:
        return 0
    aware = (
        last_timestamp if last_timestamp.tzinfo is not None else last_timestamp.replace(tzinfo=UTC)
    )
    # Times are shown to the microsecond: an event shown at last_timestamp counts as at it.
    return await store.topic_position(topic, aware.timestamp() + 0.5e-6)


def event_out(row: EventRow) -> EventOut:
    event = event_payload(row)
    return EventOut(
        id=event.id,
        sequence_id=event.sequence_id,
        topic=event.topic,
        event_type=event.event_type,
        data=to_jsonable_python(event.data, fallback=str),
        created_at=event.created_at,
    )
