"""One poll for every caller of this process waiting on a run's end.

Where a store cannot promise that every run's end reaches this process as a
signal (SQLite, whose wake-ups between processes may be lost; PostgreSQL
while its LISTEN connection is down), waiters must also poll. Each waiter
reading its own run on a back-off made thousands of waiters cost thousands
of reads: in a burst of 2,000 short runs on SQLite, about five reads of each
run while it was queued or running. Here one timer per store asks, in one
query, which of the awaited runs have ended, and wakes their waiters
(:meth:`~polos.store.hub.Hub.execution_finished`), each of which then reads
its run once. The poll comes quickly after a waiter arrives and backs off
while nothing ends, as each waiter's own poll did.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from ..store import Store

log = logging.getLogger("polos.client")

POLL_MIN, POLL_MAX = 0.01, 0.25

_watchers: weakref.WeakKeyDictionary[Store, FinishWatcher] = weakref.WeakKeyDictionary()


def watch_finishes(store: Store) -> None:
    """Make sure ``store``'s awaited runs are polled soon: a waiter just arrived."""
    watcher = _watchers.get(store)
    if watcher is None:
        watcher = _watchers[store] = FinishWatcher(store)
    watcher.poke()


class FinishWatcher:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.interval = POLL_MIN
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._polling: asyncio.Task[None] | None = None

    def poke(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a store used from another loop starts afresh
            self._loop, self._timer, self._polling = loop, None, None
        self.interval = POLL_MIN
        self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        due = self._loop.time() + self.interval
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._polling is None and self._loop is not None:
            self._polling = self._loop.create_task(self._poll(), name="polos-finish-watch")
        # else: the poll in flight schedules the next one when it is done

    async def _poll(self) -> None:
        hub = self.store.hub
        try:
            awaited = hub.awaited_ids()
            # Nobody waits, or every end is signalled again: the next waiter restarts it.
            if not awaited or self.store.finishes_signalled:
                return
            try:
                ended = await self.store.ended_among(awaited)
            except Exception as exc:  # asked again next turn; each waiter also times out
                log.debug("polling for ended runs failed: %s", exc)
                ended = []
            for execution_id in ended:
                hub.execution_finished(execution_id)
            self.interval = min(self.interval * 2, POLL_MAX)
        finally:
            self._polling = None
        if hub.awaited_ids():
            self._schedule()
