"""Server-Sent Events that tell open pages when what they show has changed.

A live part of a page (the run list, a run, a trace) names its feed in
``data-live``; the page's script follows it with ``EventSource`` and, on each
``changed`` event, has htmx fetch the part again. One watcher per distinct
feed (the same filters, the same run) computes the part's version once a
second, or at once when the store signals new work, and tells every page
following it: a hundred people looking at the same list cost one query a
second, not a hundred. Nothing is sent while nothing changes, apart from a
keepalive comment.

The version is the same digest the fragment routes compare with ``?v=``, so
a fetch after an event that changed nothing visible is a ``204``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...errors import PolosError
from ...store import Store
from ..shared_reader import SharedReader, SharedReaders, moved_within
from ..sse import KEEPALIVE, OPENING
from ..state import server_state
from .common import path_id
from .run import run_context
from .runs import runs_context
from .trace_page import trace_context

log = logging.getLogger("polos.server")

Version = Callable[[], Awaitable[str | None]]

#: How often a watcher recomputes its version when the store says nothing.
CHECK_EVERY = 1.0


class Watcher(SharedReader):
    """The current version of one live part, kept by one task for all its followers."""

    def __init__(self, store: Store, key: str, version: Version) -> None:
        self.key = key
        self.version: str | None = None
        self._store, self._compute = store, version
        super().__init__(f"polos-live:{key}")

    async def read(self) -> None:
        queued = self._store.hub.work_event()
        while True:
            queued.clear()
            try:
                version = await self._compute()
            except (PolosError, OSError) as exc:  # the store's outage log says the rest
                log.debug("live view %s waits: %s", self.key, exc)
                version = self.version
            if version != self.version:
                self.version = version
                self.tell_followers()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queued.wait(), CHECK_EVERY)


class LiveFeed:
    """The watchers of the parts open pages follow, made on demand."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._watchers: SharedReaders[Watcher] = SharedReaders()

    def watching(self) -> dict[str, int]:
        """How many pages follow each live part now."""
        return self._watchers.following()

    async def follow(
        self, key: str, version: Version, keepalive: float
    ) -> AsyncGenerator[bytes, None]:
        yield OPENING
        told: str | None = None
        async with self._watchers.follow(key, lambda: Watcher(self.store, key, version)) as watcher:
            while True:
                moved = watcher.moved()
                if watcher.version is not None and watcher.version != told:
                    told = watcher.version
                    yield b"event: changed\ndata: " + told.encode() + b"\n\n"
                if not await moved_within(moved, keepalive):
                    yield KEEPALIVE

    async def close(self) -> None:
        await self._watchers.close()


def _stream(
    request: Request, key: str, context: Callable[[], Awaitable[dict[str, Any] | None]]
) -> Response:
    """The feed of one live part, whose version is that of the fragment ``context`` makes."""

    async def version() -> str | None:
        made = await context()
        return None if made is None else str(made["version"])

    state = server_state(request)
    frames = state.live.follow(key, version, state.settings.keepalive_seconds)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)


async def runs_live(request: Request) -> Response:
    return _stream(request, f"runs?{request.url.query}", lambda: runs_context(request))


async def run_live(request: Request) -> Response:
    execution_id = path_id(request)
    return _stream(request, f"run/{execution_id}", lambda: run_context(request, execution_id))


async def trace_live(request: Request) -> Response:
    execution_id = path_id(request)
    return _stream(request, f"trace/{execution_id}", lambda: trace_context(request, execution_id))
