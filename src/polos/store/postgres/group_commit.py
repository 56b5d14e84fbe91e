"""Group commit for step records.

Under load many executions record a step in the same moment; sending each
as its own statement costs a round trip and a WAL flush apiece. Here the
records queue up while one batch is in flight and go out together as the
next batch: one statement, one commit. With a single caller nothing waits:
its record goes out at once, as before.

One record must never fail another: a batch the database refuses (a value
it cannot store) is split in halves and each half sent again, down to the
single record at fault, whose caller alone gets the error. The statement is
atomic, so nothing of a refused batch was written, and every write is
idempotent anyway. An outage (:class:`StoreUnavailableError`, raised after
retrying for the whole budget) is everyone's problem, so it is not split.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...errors import StoreUnavailableError

Row = tuple[Any, ...]
Flush = Callable[[Sequence[Row]], Awaitable[list[bool]]]


class GroupCommit:
    def __init__(self, flush: Flush, max_batch: int = 500) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[Row, asyncio.Future[bool]]] = []
        self._draining = False

    async def submit(self, row: Row) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((row, fut))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._settle(batch)
        finally:
            self._draining = False

    async def _settle(self, batch: list[tuple[Row, asyncio.Future[bool]]]) -> None:
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
        for (_, fut), ok in zip(batch, outcomes, strict=True):
            if not fut.done():
                fut.set_result(ok)


def _fail(batch: list[tuple[Row, asyncio.Future[bool]]], exc: BaseException) -> None:
    for _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)
