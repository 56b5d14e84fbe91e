"""Server-Sent Events: framing, keepalive comments, and resumable cursors.

Each event goes out as ``id: <cursor>`` and ``data: <the event as JSON>``
(no ``event:`` field, as Polos sends them, so ``EventSource.onmessage`` and
Polos's SDK both read them). A client that reconnects with the last id it
saw (``Last-Event-ID``) misses nothing and gets nothing twice:

- following a topic, the cursor is the event's sequence id;
- following a run tree, the cursor is ``S.T.K``: the highest topic sequence
  id delivered, the time (epoch microseconds) of the last lifecycle event
  delivered (``step_start`` / ``step_finish`` / ``*_finish``, which are read
  from the store rather than published, and have no sequence id of their
  own), and how many lifecycle events of exactly that time were delivered.

An idle stream sends a ``: keepalive`` comment every few seconds, so proxies
keep the connection open and a dead client is noticed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from ..types import StreamEvent
from .errors import bad_request

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Lifecycle events carry ids of these forms (see ``polos.events``).
_LIFECYCLE_SUFFIXES = (":step_start", ":step_finish", ":finish")


def frame(cursor: str, event: StreamEvent) -> bytes:
    data = orjson.dumps(event.model_dump(mode="json"))
    return b"id: " + cursor.encode() + b"\ndata: " + data + b"\n\n"


OPENING = b"retry: 1000\n: stream open\n\n"
KEEPALIVE = b": keepalive\n\n"


async def with_keepalive(frames: AsyncGenerator[bytes, None], every: float) -> AsyncIterator[bytes]:
    """``frames``, with a keepalive comment after each ``every`` seconds without one.

    Waiting for the next frame is never cancelled by a keepalive (that would
    close the stream underneath); the reader is closed when the client goes.
    """
    yield OPENING
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(frames))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield KEEPALIVE
                continue
            finished, pending = pending, None
            try:
                chunk = finished.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})
        await frames.aclose()


def is_lifecycle(event: StreamEvent) -> bool:
    return event.id.endswith(_LIFECYCLE_SUFFIXES)


def micros(created_at: str | None) -> int:
    if not created_at:
        return 0
    moment = datetime.fromisoformat(created_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def micros_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass
class TreeCursor:
    """Where a run-tree stream stands (see the module doc)."""

    seq: int = 0
    time_us: int = 0
    at_time: int = 0

    def __str__(self) -> str:
        return f"{self.seq}.{self.time_us}.{self.at_time}"


def parse_topic_cursor(value: str) -> int:
    """A topic stream's ``Last-Event-ID`` (a sequence id; a run-tree cursor's first part)."""
    head = value.strip().split(".", 1)[0]
    if not head.isdigit():
        raise bad_request(
            f"Last-Event-ID {value!r} is not a cursor of this server: send back the id "
            "of the last event received"
        )
    return int(head)


def parse_tree_cursor(value: str) -> TreeCursor:
    parts = value.strip().split(".")
    if len(parts) not in (1, 3) or not all(p.isdigit() for p in parts):
        raise bad_request(
            f"Last-Event-ID {value!r} is not a cursor of this server: send back the id "
            "of the last event received"
        )
    if len(parts) == 1:
        return TreeCursor(int(parts[0]))
    return TreeCursor(int(parts[0]), int(parts[1]), int(parts[2]))


async def tree_frames(
    events: AsyncIterator[StreamEvent], start: TreeCursor
) -> AsyncGenerator[bytes, None]:
    """Frames of a run-tree stream read from ``start``: lifecycle events the cursor
    says were delivered already are dropped, and each frame carries the cursor after it."""
    cursor = TreeCursor(start.seq, start.time_us, start.at_time)
    skip = start.at_time  # lifecycle events at exactly start.time_us already delivered
    async for event in events:
        if not is_lifecycle(event):
            cursor.seq = max(cursor.seq, event.sequence_id)
        else:
            at = micros(event.created_at)
            if at < start.time_us:
                continue
            if at == start.time_us and skip > 0:
                skip -= 1
                continue
            if at > cursor.time_us:
                cursor.time_us, cursor.at_time = at, 1
            elif at == cursor.time_us:
                cursor.at_time += 1
        yield frame(str(cursor), event)
