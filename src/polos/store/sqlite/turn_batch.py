"""Write transactions asked for in one turn of the event loop, committed together.

A SQLite commit costs the pages it appends to the write-ahead log: a run's
start or end rewrites about ten (its row, the leaf pages of the indexes on
``executions``, the history), each a write of its own. Runs that start or end
at the same moment touch mostly the same pages, so one commit for all of them
writes each page once instead of once per run.

When other callbacks are ready to run in the current turn of the loop (other
runs moving on), a transaction asked for now waits for that turn to end and
goes out with whatever the others asked for meanwhile: one ``BEGIN``, every
body in the order asked, one ``COMMIT``. A caller with nothing else ready is
not delayed: :meth:`TurnBatch.wanted` says no and its transaction runs at once,
as it always did. SQLite has one writer at a time, so bodies run one after
another either way; each sees what the bodies before it wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

B = TypeVar("B")

#: A body and the future its caller awaits.
Pending = tuple[B, "asyncio.Future[Any]"]


class TurnBatch(Generic[B]):
    """Gathers the bodies asked for during one loop turn; ``commit`` runs them together.

    ``commit`` gets the gathered ``(body, future)`` pairs, in order, and must
    settle every future that is not already done (a caller cancelled while it
    waited has a done future: its body may be skipped).
    """

    def __init__(self, commit: Callable[[list[Pending[B]]], Awaitable[None]]) -> None:
        self._commit = commit
        self._gathering: list[Pending[B]] | None = None
        self._flushes: set[asyncio.Task[None]] = set()  # referenced while they run

    def wanted(self) -> bool:
        """Whether a transaction asked for now should wait for this turn's batch.

        Yes while a batch is gathering, or when other callbacks are ready in
        this turn (asyncio's own ready queue; an event loop without one, such
        as uvloop's, never batches).
        """
        if self._gathering is not None:
            return True
        return bool(getattr(asyncio.get_running_loop(), "_ready", None))

    async def submit(self, body: B) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self._gathering is None:
            self._gathering = []
            # The task's first step runs in the next turn: everything ready in
            # this one has had its chance to join by then.
            task = loop.create_task(self._flush())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        self._gathering.append((body, fut))
        return await fut

    async def _flush(self) -> None:
        batch, self._gathering = self._gathering or [], None
        await self._commit(batch)

    async def drain(self) -> None:
        """Wait until every gathered batch has been committed (before closing)."""
        while self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
