"""Time- and event-driven starts that the server itself performs.

Our Python workers fire due schedules, timers, run deadlines and event
triggers from their own loops (``runtime/worker.py``). A fleet of SDK workers
only has the server: Polos's orchestrator fires schedules and triggers itself,
so ``polos server`` does too. The same engine functions run here, and every one
of them is exactly-once across processes (a compare-and-set in the store), so a
server and any number of our workers firing side by side start each run once.

Expired leases are not reaped here: which worker holds a pushed run is the
dispatcher's business (:mod:`polos.server.protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ...engine.schedules import fire_due
from ...engine.triggers import fire_triggers
from ...store import Store

log = logging.getLogger("polos.server.duties")

#: The longest a loop sleeps between looks: the store's in-process signals wake
#: it sooner, but another process's publish or schedule is seen only on a look.
POLL_SECONDS = 1.0


class ServerDuties:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._timers(), name="polos-server-timers"),
            asyncio.create_task(self._triggers(), name="polos-server-triggers"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _timers(self) -> None:
        """Due timers, run deadlines and schedule ticks (as a worker's timer loop)."""
        woken = self.store.hub.timer_event()
        while True:
            woken.clear()
            try:
                due = await fire_due(self.store, self.clock())
                sleep = POLL_SECONDS if due is None else min(max(due - self.clock(), 0.0), 1.0)
            except Exception:
                log.exception("firing due timers and schedules failed; retrying")
                sleep = POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), sleep)

    async def _triggers(self) -> None:
        """Event triggers: each event (or batch) on a trigger's topic starts one run."""
        published = self.store.hub.events_event()
        while True:
            published.clear()
            try:
                started = await fire_triggers(self.store, self.clock())
            except Exception:
                log.exception("event triggers failed; retrying")
                started = 0
            if not started:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(published.wait(), POLL_SECONDS)
