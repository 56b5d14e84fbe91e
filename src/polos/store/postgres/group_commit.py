"""Group commit for step records.

Under load many executions record a step in the same moment; sending each
as its own statement costs a round trip and a WAL flush apiece. Here the
records queue up while one batch is in flight and go out together as the
next batch: one statement, one commit. With a single caller nothing waits:
its record goes out at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

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
                try:
                    outcomes = await self._flush([row for row, _ in batch])
                except BaseException as exc:  # every caller of the batch sees the failure
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, fut), ok in zip(batch, outcomes, strict=True):
                    if not fut.done():
                        fut.set_result(ok)
        finally:
            self._draining = False
