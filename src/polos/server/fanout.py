"""One reader per followed topic, shared by every SSE client of this server.

Without it, each client of a topic polls the store on its own: a thousand
dashboards on one topic are a thousand queries per wake-up, and each event is
encoded a thousand times. Here one ``TopicTail`` per topic reads what is
published (woken by the store's signal, polling as a fallback), encodes each
event's frame once, and keeps the latest frames in memory; followers take
them from there.

A follower that starts further back than what the tail keeps (a reconnect
after a long absence, a stream from the beginning) reads the store itself,
page by page, until it reaches the tail, then joins it. Either way a follower
sees each event once, in sequence order.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncGenerator

from .. import events
from ..errors import StoreError
from ..store import Store
from .shared_reader import SharedReader, SharedReaders, moved_within
from .sse import KEEPALIVE, OPENING, frame

log = logging.getLogger("polos.server")

_PAGE = 200
_POLL = 0.25
#: Frames a tail keeps for followers that are slightly behind.
_KEEP = 1000


class TopicTail(SharedReader):
    """The latest frames of one topic. Every event with ``floor < seq <= head``
    is in ``frames``, in order."""

    def __init__(self, store: Store, topic: str) -> None:
        self.store, self.topic = store, topic
        self.seqs: list[int] = []
        self.frames: list[bytes] = []
        self.floor = self.head = 0
        self.ready = asyncio.Event()
        super().__init__(f"polos-sse-tail:{topic}")

    def after(self, seq: int) -> list[tuple[int, bytes]]:
        """The kept frames after ``seq`` (which must be ``>= floor``)."""
        start = bisect.bisect_right(self.seqs, seq)
        return list(zip(self.seqs[start:], self.frames[start:], strict=True))

    async def read(self) -> None:
        published = self.store.hub.events_event()
        while True:
            try:
                if not self.ready.is_set():
                    self.floor = self.head = await self.store.topic_position(self.topic)
                    self.ready.set()
                published.clear()
                rows = await self.store.read_events(self.topic, self.head, _PAGE)
            except StoreError as exc:  # the store's outage log says the rest
                log.debug("stream of %r waits for the store: %s", self.topic, exc)
                await asyncio.sleep(1.0)
                continue
            for row in rows:
                self.seqs.append(row.seq)
                self.frames.append(frame(str(row.seq), events.stream_event(row)))
                self.head = row.seq
            if len(self.seqs) > 2 * _KEEP:  # trim in bulk, not one by one
                self.floor = self.seqs[-_KEEP - 1]
                del self.seqs[:-_KEEP], self.frames[:-_KEEP]
            if rows:
                self.tell_followers()
            if len(rows) < _PAGE:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(published.wait(), _POLL)


class Fanout:
    """The tails of the topics this server's clients follow, opened on demand."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tails: SharedReaders[TopicTail] = SharedReaders()

    async def follow(self, topic: str, after: int, keepalive: float) -> AsyncGenerator[bytes, None]:
        """The stream's opening, then frames of ``topic``'s events after sequence id
        ``after`` as they come, with a keepalive comment after ``keepalive`` idle seconds."""
        yield OPENING
        async with self._tails.follow(topic, lambda: TopicTail(self.store, topic)) as tail:
            await tail.ready.wait()
            async with contextlib.aclosing(self._frames(tail, after, keepalive)) as frames:
                async for chunk in frames:
                    yield chunk

    async def _frames(
        self, tail: TopicTail, after: int, keepalive: float
    ) -> AsyncGenerator[bytes, None]:
        while True:
            moved = tail.moved()
            if after < tail.floor:  # further back than the tail keeps: read the store
                rows = await self.store.read_events(tail.topic, after, _PAGE)
                for row in rows:
                    after = row.seq
                    yield frame(str(row.seq), events.stream_event(row))
                if rows:
                    continue
            else:
                kept = tail.after(after)
                for seq, chunk in kept:
                    after = seq
                    yield chunk
                if kept:
                    continue
            if not await moved_within(moved, keepalive):
                yield KEEPALIVE

    def following(self) -> dict[str, int]:
        """How many clients follow each topic now."""
        return self._tails.following()

    async def close(self) -> None:
        await self._tails.close()
