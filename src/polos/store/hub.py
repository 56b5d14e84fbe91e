"""In-process wake-ups between the parts of Polos that share one database.

A client and a worker in the same process (``Polos``) must not wait for a poll
to notice each other: the store fires these signals right after it commits,
and fires them too when another process says it committed such a transition
(PostgreSQL: a NOTIFY, see ``postgres/listener.py``; SQLite: a datagram on a
Unix socket, see ``sqlite/wake.py``; both carry the payloads of
:func:`dispatch`). A lost signal costs latency only, because every waiter
also polls.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable

log = logging.getLogger("polos.store")

_hubs: dict[str, Hub] = {}

#: Results of runs this process completed, kept for a waiter that asks next:
#: at most this many, each at most this long (the memory stays small).
RESULTS_KEPT = 1024
RESULT_MAX_CHARS = 1024
#: Runs submitted by this process and not yet seen to end, remembered at most.
NEW_KEPT = 65536


class Hub:
    def __init__(self) -> None:
        self._work: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()
        self._timers: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()
        self._events: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()
        self._finished: dict[str, list[asyncio.Future[None]]] = {}
        self._cancel_listeners: list[Callable[[str], None]] = []
        self._results: OrderedDict[str, str] = OrderedDict()
        self._executing: set[str] = set()
        self._new: OrderedDict[str, None] = OrderedDict()

    @classmethod
    def for_database(cls, key: str) -> Hub:
        """One hub per database per process, so separate objects still meet."""
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = cls()
        return hub

    # queued work -------------------------------------------------------
    def work_event(self) -> asyncio.Event:
        event = asyncio.Event()
        self._work.add(event)
        return event

    def work_queued(self) -> None:
        _set_all(self._work)

    # timers --------------------------------------------------------------
    def timer_event(self) -> asyncio.Event:
        event = asyncio.Event()
        self._timers.add(event)
        return event

    def timer_set(self) -> None:
        _set_all(self._timers)

    # published events (streams and event triggers) -----------------------
    def events_event(self) -> asyncio.Event:
        event = asyncio.Event()
        self._events.add(event)
        return event

    def events_published(self) -> None:
        _set_all(self._events)

    # finished executions -------------------------------------------------
    def finished_future(self, execution_id: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finished.setdefault(execution_id, []).append(fut)
        return fut

    def discard_future(self, execution_id: str, fut: asyncio.Future[None]) -> None:
        waiters = self._finished.get(execution_id)
        if waiters and fut in waiters:
            waiters.remove(fut)
            if not waiters:
                del self._finished[execution_id]

    def awaited_ids(self) -> list[str]:
        """The runs someone in this process waits to see end."""
        return list(self._finished)

    def execution_finished(self, execution_id: str) -> None:
        self._new.pop(execution_id, None)
        _wake(self._finished.pop(execution_id, ()))

    def wake_finished_waiters(self) -> None:
        """Wake every waiter on a run's end, to read its run again (the signals
        of ends may have been missed, or may stop coming)."""
        self._new.clear()  # which of them ended is not known any more
        waiting, self._finished = self._finished, {}
        for futs in waiting.values():
            _wake(futs)

    # runs this process submitted ----------------------------------------------
    def expect_new(self, execution_ids: Iterable[str]) -> None:
        """Runs this process is about to insert: until their end is signalled here,
        a waiter knows they have not ended without reading them. Noted before the
        insert, so that an end signalled right after it cannot come first."""
        new = self._new
        for execution_id in execution_ids:
            new[execution_id] = None
        while len(new) > NEW_KEPT:
            new.popitem(last=False)

    def forget_new(self, execution_ids: Iterable[str]) -> None:
        """Runs noted by ``expect_new`` that were not inserted after all."""
        for execution_id in execution_ids:
            self._new.pop(execution_id, None)

    def new_and_unended(self, execution_id: str) -> bool:
        return execution_id in self._new

    # runs a worker of this process is executing ------------------------------
    def execution_started_here(self, execution_id: str) -> None:
        self._executing.add(execution_id)

    def execution_left_here(self, execution_id: str) -> None:
        self._executing.discard(execution_id)

    def executing_here(self, execution_id: str) -> bool:
        """Whether a worker of this process runs (or holds) the execution now: it
        has not finished, and its end will be signalled here, so a waiter need
        not read it first."""
        return execution_id in self._executing

    # results of completed executions --------------------------------------
    def execution_completed(self, execution_id: str, result: str) -> None:
        """A run this process completed (committed): keep a short result, so a
        waiter here need not read it back. A completed run never changes again
        (retries take failed and cancelled runs only), so it cannot go stale."""
        if len(result) <= RESULT_MAX_CHARS:
            self._results[execution_id] = result
            if len(self._results) > RESULTS_KEPT:
                self._results.popitem(last=False)
        self.execution_finished(execution_id)

    def completed_result(self, execution_id: str) -> str | None:
        """The result kept by ``execution_completed``, if still kept."""
        return self._results.get(execution_id)

    # cancellations -------------------------------------------------------
    def on_cancel(self, listener: Callable[[str], None]) -> Callable[[], None]:
        self._cancel_listeners.append(listener)
        return lambda: self._cancel_listeners.remove(listener)

    def execution_cancelled(self, execution_id: str) -> None:
        for listener in list(self._cancel_listeners):
            listener(execution_id)
        self.execution_finished(execution_id)


def dispatch(hub: Hub, payload: str) -> None:
    """Fire the signal a wake-up from another process stands for.

    The payloads, shared by PostgreSQL's NOTIFY and SQLite's wake sockets:
    ``q`` work queued, ``t`` a timer set, ``e`` events published,
    ``f:<id>`` an execution finished, ``c:<id>`` an execution cancelled.
    """
    kind, _, execution_id = payload.partition(":")
    if kind == "q":
        hub.work_queued()
    elif kind == "t":
        hub.timer_set()
    elif kind == "e":
        hub.events_published()
    elif kind == "f" and execution_id:
        hub.execution_finished(execution_id)
    elif kind == "c" and execution_id:
        hub.execution_cancelled(execution_id)  # also resolves the finished futures
    else:
        log.debug("ignoring wake-up %r", payload)


def _set_all(events: weakref.WeakSet[asyncio.Event]) -> None:
    for event in list(events):
        event.set()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake(futs: Iterable[asyncio.Future[None]]) -> None:
    """Resolve each of ``futs`` on its own loop (a waiter may be in another thread's loop)."""
    for fut in futs:
        if not fut.done():
            fut.get_loop().call_soon_threadsafe(_resolve, fut)
