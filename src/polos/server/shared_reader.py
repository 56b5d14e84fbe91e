"""One background reader per key, shared by every stream that follows that key.

Both the topic streams (``fanout.py``) and the dashboard's live feeds
(``dashboard/live.py``) serve many clients from one task that reads the store:
the first follower of a key starts its reader, the last one to leave stops it,
and followers learn that the reader moved on through an ``asyncio.Event``
replaced each time (taken before looking, so no news is missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

log = logging.getLogger("polos.server")

#: Seconds before a reader that failed unexpectedly reads again.
RESTART_AFTER = 1.0


class SharedReader:
    """A task reading for all followers of one key; subclasses write ``read``."""

    def __init__(self, name: str) -> None:
        self.followers = 0
        self._moved = asyncio.Event()
        self._task = asyncio.create_task(self._keep_reading(name), name=name)

    async def read(self) -> None:
        raise NotImplementedError

    async def _keep_reading(self, name: str) -> None:
        """``read``, started again after an unexpected error. A reader that died
        would leave every follower of its key waiting, for good and without a
        word (their streams go on sending keepalives). Logged once per reader."""
        logged = False
        while True:
            try:
                await self.read()
                return
            except Exception:
                if not logged:
                    log.warning(
                        "%s failed; it reads again every %ss", name, RESTART_AFTER, exc_info=True
                    )
                    logged = True
            await asyncio.sleep(RESTART_AFTER)

    def moved(self) -> asyncio.Event:
        """Set once the reader moves on after this call (take it before looking)."""
        return self._moved

    def tell_followers(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


R = TypeVar("R", bound=SharedReader)


class SharedReaders(Generic[R]):
    """The readers of the keys followed now, made on demand."""

    def __init__(self) -> None:
        self._readers: dict[str, R] = {}

    def following(self) -> dict[str, int]:
        """How many streams follow each key now."""
        return {key: reader.followers for key, reader in self._readers.items()}

    @contextlib.asynccontextmanager
    async def follow(self, key: str, make: Callable[[], R]) -> AsyncIterator[R]:
        """The reader of ``key`` (made if none), counted as followed while inside."""
        reader = self._readers.get(key)
        if reader is None:
            reader = self._readers[key] = make()
        reader.followers += 1
        try:
            yield reader
        finally:
            reader.followers -= 1
            if reader.followers == 0 and self._readers.get(key) is reader:
                del self._readers[key]
                await reader.close()

    async def close(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            await reader.close()


async def moved_within(moved: asyncio.Event, seconds: float) -> bool:
    """Wait for ``moved``; False if ``seconds`` passed first (time for a keepalive).

    A timer, not a task per wait: with a thousand followers the per-event cost
    is what bounds how fast news reaches them all."""
    try:
        async with asyncio.timeout(seconds):
            await moved.wait()
    except TimeoutError:
        return False
    return True
