"""Group commit: many runs' transitions of one kind in one commit.

Used for step records, completions, parks, invocations, child creations,
event waits and event publishes. Under load many executions record a step in the same moment; sending each
as its own statement costs a round trip and a WAL flush apiece. Here the
records queue up while one batch is in flight and go out together as the
next batch: one statement, one commit. With a single caller nothing waits:
its record goes out at once, written from the caller's own task.

One record must never fail another: a batch the database refuses (a value
it cannot store) is split in halves and each half sent again, down to the
single record at fault, whose caller alone gets the error. The statement is
atomic, so nothing of a refused batch was written, and every write is
idempotent anyway. A flush may also refuse one record on its own by
returning an exception in that record's place (the others were written):
that caller alone gets it, and nothing is sent again. An outage (:class:`StoreUnavailableError`, raised after
retrying for the whole budget) is everyone's problem, so it is not split.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from ...errors import StoreUnavailableError

Row = tuple[Any, ...]
R = TypeVar("R")
T = TypeVar("T")


class GroupCommit(Generic[R, T]):
    """Queues records of type ``R`` and writes them in batches; each caller gets its ``T``.

    ``flush`` writes a batch and returns one outcome per record, in order: a
    value, or an exception refusing that record alone.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[R]], Awaitable[Sequence[T | Exception]]],
        max_batch: int = 500,
        flush_one: Callable[[R], Awaitable[T]] | None = None,
    ) -> None:
        self._flush = flush
        # A lone record's own write (what ``flush`` of a batch of one does, or
        # raises in place of returning an exception), spared the lists.
        self._flush_one = flush_one
        self._max_batch = max_batch
        self._pending: list[tuple[R, asyncio.Future[T]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None  # referenced while it runs

    async def submit(self, row: R) -> T:
        if self._draining:
            fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            self._pending.append((row, fut))
            return await fut
        # Nothing in flight: write this record from the caller's own task, as a
        # batch of one (a drain task would cost a future, a task and an event
        # loop turn for every lone record). Whatever queues up meanwhile is
        # drained as before once it is written. A caller cancelled meanwhile
        # cancels its own statement: the record is then written or not, as
        # when a worker dies mid-write, and every write is idempotent.
        self._draining = True
        try:
            if self._flush_one is not None:
                return await self._flush_one(row)
            [outcome] = await self._flush([row])
        finally:
            if self._pending:
                self._drainer = asyncio.get_running_loop().create_task(self._drain())
            else:
                self._draining = False
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._settle(batch)
        finally:
            self._draining = False

    async def _settle(self, batch: list[tuple[R, asyncio.Future[T]]]) -> None:
        try:
            outcomes = await self._flush([row for row, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, StoreUnavailableError):
                # Bisect: k bad records among n cost O(k log n) statements.
                half = len(batch) // 2
                await self._settle(batch[:half])
                await self._settle(batch[half:])
                return
            _fail(batch, exc)
            return
        except BaseException as exc:  # cancelled: every caller of the batch sees it
            _fail(batch, exc)
            raise
        for (_, fut), outcome in zip(batch, outcomes, strict=True):
            if fut.done():
                continue
            if isinstance(outcome, Exception):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)


def _fail(batch: Sequence[tuple[Any, asyncio.Future[Any]]], exc: BaseException) -> None:
    for _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)
