"""``polos.features.events``: where Polos code imports the events API from."""

from ..events import (
    EventData,
    EventPayload,
    StreamEvent,
    batch_publish,
    publish,
    stream_topic,
    stream_workflow,
)
from ..types import BatchEventPayload, EventItem

__all__ = [
    "BatchEventPayload",
    "EventData",
    "EventItem",
    "EventPayload",
    "StreamEvent",
    "batch_publish",
    "publish",
    "stream_topic",
    "stream_workflow",
]
