"""LISTEN on the schema's channel and turn notifications into hub signals.

Other processes NOTIFY after the transitions that someone may be waiting
for: ``q`` (work queued), ``t`` (a timer was set), ``e`` (events were
published), ``f:<id>`` (an execution finished) and ``c:<id>`` (an execution
was cancelled). One dedicated
connection per store receives them. When that connection drops, the
listener reconnects with backoff and then wakes every local waiter once,
because notifications sent while it was away are lost (waiters also poll,
so a lost signal costs latency, never correctness). Its failures go to the
store's :class:`~..outage_log.OutageLog`, so an outage is logged once, not
once by the pool and again by the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..hub import Hub, dispatch
from ..outage_log import OutageLog
from .resilience import is_transient, jittered

log = logging.getLogger("polos.store.postgres")

Connect = Callable[[], Awaitable[Any]]  # -> asyncpg.Connection

_HEALTH_CHECK_EVERY = 10.0  # an idle socket to a vanished host is only noticed on use
_HEALTH_CHECK_TIMEOUT = 5.0
_FIRST_DELAY = 0.1
_MAX_DELAY = 5.0


class Listener:
    def __init__(self, connect: Connect, channel: str, hub: Hub, outages: OutageLog) -> None:
        self._connect = connect
        self._channel = channel
        self._hub = hub
        self._outages = outages
        self._description = outages.description
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self, timeout: float = 10.0) -> None:
        """Start listening; waits (briefly) for the first LISTEN so no early NOTIFY is missed."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="polos-pg-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def _supervise(self) -> None:
        delay = _FIRST_DELAY
        first = True
        while True:
            try:
                await self._listen_until_lost(resync=not first)
                self._outages.failed(
                    "listening for notifications",
                    ConnectionError("the listener's connection was lost"),
                    "reconnecting; workers poll meanwhile",
                )
                delay = _FIRST_DELAY  # it was up, so this outage starts with a short wait
            except Exception as exc:
                if is_transient(exc):
                    self._outages.failed(
                        "listening for notifications", exc, "reconnecting; workers poll meanwhile"
                    )
                else:
                    log.exception("%s: the notification listener failed", self._description)
            first = False
            await asyncio.sleep(jittered(delay))
            delay = min(delay * 2, _MAX_DELAY)

    async def _listen_until_lost(self, *, resync: bool) -> None:
        """Connect and LISTEN; return once the connection is gone."""
        conn = await self._connect()
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(self._channel, self._on_notification)
            self._listening.set()
            if resync:
                self._outages.succeeded()
                log.debug("%s: the notification listener is back", self._description)
                self._hub.work_queued()
                self._hub.timer_set()
                self._hub.wake_finished_waiters()  # ends missed while it was down
            await self._watch(conn, lost)
        finally:
            self._listening.clear()
            # Waiters that slept on the signal read their run again and poll
            # (PostgresStore.finishes_signalled is now False).
            self._hub.wake_finished_waiters()
            conn.terminate()

    async def _watch(self, conn: Any, lost: asyncio.Event) -> None:
        """Return when the server closes the connection or it stops answering."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), _HEALTH_CHECK_EVERY)
                return
            try:
                await conn.execute("SELECT 1", timeout=_HEALTH_CHECK_TIMEOUT)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                return

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        dispatch(self._hub, payload)
