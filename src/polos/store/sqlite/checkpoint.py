"""WAL checkpoints off the event loop.

SQLite's automatic checkpoint runs inside whichever commit crosses the
threshold, so on the loop's connection it would stall every execution for
several milliseconds now and then. Instead the loop's connection turns the
automatic checkpoint off and this task runs a PASSIVE checkpoint from a
thread, on a connection of its own, once the WAL has grown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3

log = logging.getLogger("polos.store.sqlite")

WAL_LIMIT_BYTES = 4 * 1024 * 1024
CHECK_EVERY_SECONDS = 0.5


class Checkpointer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name="polos-sqlite-checkpoint"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_SECONDS)
            try:
                if os.path.getsize(f"{self.path}-wal") > WAL_LIMIT_BYTES:
                    await asyncio.to_thread(self._checkpoint)
            except FileNotFoundError:
                continue
            except sqlite3.Error as exc:  # busy or locked: try again next time
                log.debug("checkpoint skipped: %s", exc)

    def _checkpoint(self) -> None:
        conn = sqlite3.connect(self.path, timeout=1.0)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
