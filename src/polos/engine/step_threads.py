"""Where plain (``def``) functions run: a small pool of long-lived threads.

``asyncio.to_thread`` costs about 80 us per call on a small machine: a
``concurrent.futures`` future, a work item, an executor queue, a wrapping
asyncio future and a wake-up of the event loop through its self-pipe. A step
of user code is usually much shorter than that, so the hand-off would be
most of the step's cost.

Here the hand-off is one ``SimpleQueue.put`` to an idle thread of our own
pool. The event loop then waits for the answer for at most
``SYNC_WAIT_S`` (a fraction of a millisecond) with the GIL released: a
short function is done by then and its result is taken directly, with no
trip through the event loop's self-pipe. A function that takes longer hands
its result back through ``loop.call_soon_threadsafe`` instead, and the event
loop keeps running every other run meanwhile. A function seen to take longer
than the window once is not waited for again, so slow functions (an HTTP
call, ``time.sleep(1)``) never hold the loop even for that fraction of a
millisecond after their first call.

The pool is shared by every event loop of the process, grows when no thread
is idle (up to ``MAX_THREADS``, queueing beyond that, like the default
executor), and threads idle for ``IDLE_EXIT_S`` leave.

Adaptive inline. Even the short wait costs a thread wake-up and two GIL
hand-overs, several times a trivial function's own time. So a Python
function (recognised by its code object, as above) that has returned
normally in a thread ``PROMOTE_AFTER`` times in a row, each time within
``FAST_S``, and was never seen to outlast ``SYNC_WAIT_S`` there, is from
then on called on the event loop itself, in a copy of the caller's context
variables (what the thread would have seen). A function seen to outlast
``SYNC_WAIT_S`` in a thread never runs inline.

An inline call that takes longer than ``SYNC_WAIT_S``, or raises, is a
strike: the function goes back to the threads and must earn its place again
with twice as long a run of quick calls. The third strike keeps it on the
threads for the rest of the process, and so does any slow call in a thread
meanwhile: a function that has turned slow holds the loop once, one that is
sometimes slow at most ``MAX_STRIKES`` times. Strikes rather than a single
verdict because a trivial function is sometimes measured slow for reasons of
its own: on a busy machine the loop's thread is preempted in the middle of
it every few ten thousand calls, and a garbage collection may start in it.
``FORGIVE_AFTER`` quick inline calls in a row forgive one strike, so such
accidents do not add up to the third. A call raising counts because a
function may fail only because it is on the loop's thread (``asyncio.run``
in it, a ``threading.local`` or an SQLite connection made on a pool thread);
the exception goes to the caller exactly as from a thread, and a retry runs
in a thread.

Functions that need a thread without an event loop (``asyncio.run``,
``loop.run_until_complete``) or that wait for the loop to do something are
not promoted: starting an event loop takes longer than ``FAST_S``, and the
loop does nothing while it waits on the thread for ``SYNC_WAIT_S``. Builtins
and other callables without a code object are never promoted.
``@step(inline=False)`` (``adapt=False`` for ``call``) keeps a function on
the threads; ``POLOS_STEP_AUTO_INLINE=0`` in the environment does so for
every function of the process (read when the pool is made: at import, and in
a forked child).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import threading
import time
from collections.abc import Callable
from queue import Empty, SimpleQueue
from types import CodeType, MethodType
from typing import Any

#: How long the event loop waits, blocked, for a plain function to return
#: before it goes back to other work. Bounds how long one step can hold the loop.
SYNC_WAIT_S = 0.0005
MAX_THREADS = 64
IDLE_EXIT_S = 30.0
#: Functions (by code object) seen to outlast SYNC_WAIT_S; bounded so that
#: generated functions cannot grow it forever. Also the bound of the tables
#: of adaptive inline.
_SLOW_LIMIT = 4096
#: A thread call within this counts towards running the function inline.
FAST_S = 0.0001
#: Consecutive fast, normal returns in a thread before a function runs inline
#: (doubled for each strike it has).
PROMOTE_AFTER = 8
#: Slow or raising inline calls after which a function stays on the threads.
MAX_STRIKES = 3
#: Quick inline calls in a row that forgive one strike.
FORGIVE_AFTER = 1000
AUTO_INLINE_ENV = "POLOS_STEP_AUTO_INLINE"


class _Record:
    """What the pool has seen of one function, for adaptive inline."""

    __slots__ = ("clean", "streak", "strikes")

    def __init__(self) -> None:
        self.streak = 0  # quick thread calls in a row
        self.strikes = 0
        self.clean = 0  # quick inline calls in a row


def _auto_inline_from_env() -> bool:
    raw = os.environ.get(AUTO_INLINE_ENV, "").strip().lower()
    return raw not in ("0", "false", "no", "off")


class _Call:
    """One hand-off: the function, its result, and how to tell the loop."""

    __slots__ = (
        "args",
        "context",
        "done",
        "elapsed",
        "error",
        "fn",
        "future",
        "kwargs",
        "mutex",
        "value",
    )

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        # Like asyncio.to_thread: the function sees the caller's context variables.
        self.context = contextvars.copy_context()
        self.mutex = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()  # released by the thread when the call has returned or raised
        self.future: asyncio.Future[Any] | None = None
        self.value: Any = None
        self.error: BaseException | None = None
        self.elapsed = 0.0

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.value = self.context.run(self.fn, *self.args, **self.kwargs)
        except BaseException as exc:  # handed to the awaiting task, as to_thread does
            self.error = exc
        # The function's own time, not the hand-off's (a thread start is not "slow").
        self.elapsed = time.perf_counter() - started
        with self.mutex:
            future = self.future
            self.done.release()
        if future is not None:
            # The loop stopped waiting synchronously: wake the awaiting task.
            # RuntimeError: the loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                future.get_loop().call_soon_threadsafe(self._settle, future)
        self.fn = self.args = self.kwargs = self.context = None  # type: ignore[assignment]

    def _settle(self, future: asyncio.Future[Any]) -> None:
        if future.done():  # the awaiting task was cancelled meanwhile
            return
        if self.error is not None:
            future.set_exception(self.error)
        else:
            future.set_result(self.value)

    def outcome(self) -> Any:
        if self.error is not None:
            error, self.error = self.error, None  # drop the reference cycle through the traceback
            raise error
        return self.value


class StepThreads:
    """A pool of daemon threads fed through one queue."""

    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        self._queue: SimpleQueue[_Call] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0
        self._max = max_threads
        self._slow: set[object] = set()
        # Adaptive inline: what was seen of each function, the functions
        # promoted to the loop, and those that never will be. Lookups and
        # counts need no lock (the worst race between loops loses a count);
        # the lock orders promotion against strikes and bars, so a barred
        # function is never promoted by a call that looked before the bar.
        self.auto_inline = _auto_inline_from_env()
        self._records: dict[object, _Record] = {}
        self._inline: dict[object, _Record] = {}
        self._never: set[object] = set()
        self._adapt_lock = threading.Lock()

    def _submit(self, call: _Call) -> None:
        with self._lock:
            start = self._idle <= 0 and self._threads < self._max
            if start:
                self._threads += 1
            else:
                self._idle -= 1  # claimed now, so two submits never count on one idle thread
        if start:
            threading.Thread(
                target=self._serve, args=(call,), name="polos-step", daemon=True
            ).start()
        else:
            self._queue.put(call)

    def _serve(self, first: _Call | None) -> None:
        call = first
        while True:
            if call is not None:
                call.run()
                call = None
            with self._lock:
                self._idle += 1
            try:
                call = self._queue.get(timeout=IDLE_EXIT_S)
            except Empty:
                with self._lock:
                    if self._idle > 0 and self._queue.empty():
                        self._idle -= 1
                        self._threads -= 1
                        return
                # A submit counted on this thread just before the timeout: serve it.
                call = self._queue.get()

    def inline_record(self, fn: Callable[..., Any]) -> _Record | None:
        """What was seen of ``fn`` when it has been promoted to run on the loop."""
        return self._inline.get(_code_of(fn))

    def call_inline(
        self,
        record: _Record,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """``fn(*args, **kwargs)`` on the calling (loop) thread, for a promoted ``fn``.

        Too slow or raising: a strike, and ``fn`` goes back to the threads.
        """
        context = contextvars.copy_context()
        started = time.perf_counter()
        try:
            value = context.run(fn, *args, **kwargs)
        except BaseException:
            self._strike(_code_of(fn), record)
            raise
        if time.perf_counter() - started > SYNC_WAIT_S:
            self._strike(_code_of(fn), record)
        elif record.strikes:
            record.clean += 1
            if record.clean >= FORGIVE_AFTER:
                record.clean = 0
                record.strikes -= 1
        return value

    async def call(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        adapt: bool = True,
    ) -> Any:
        """``fn(*args, **kwargs)`` on a pool thread, without holding the loop for long.

        ``adapt``: a promoted function runs on the loop instead, and this call
        counts towards promoting ``fn``; without it, ``fn`` always runs in a thread.
        """
        key = _code_of(fn)
        if adapt:
            record = self._inline.get(key)
            if record is not None:
                return self.call_inline(record, fn, args, kwargs)
        call = _Call(fn, args, kwargs)
        self._submit(call)
        if key not in self._slow and call.done.acquire(timeout=SYNC_WAIT_S):
            self._learn(key, call, adapt)
            return call.outcome()
        with call.mutex:
            if call.done.acquire(blocking=False):
                self._learn(key, call, adapt)
                return call.outcome()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            call.future = future
        try:
            return await future
        finally:
            if call.elapsed:  # zero when the wait was cancelled before the function returned
                self._learn(key, call, adapt)

    def _learn(self, key: object, call: _Call, adapt: bool) -> None:
        """Remember whether ``key``'s function outlasts the window, for its next call,
        and whether it is quick enough to run on the loop."""
        elapsed = call.elapsed
        if elapsed > SYNC_WAIT_S:
            if len(self._slow) >= _SLOW_LIMIT:
                self._slow.clear()
            self._slow.add(key)
            if type(key) is CodeType and key not in self._never:
                self._bar(key)
            return
        if self._slow:
            self._slow.discard(key)
        if not adapt or not self.auto_inline or type(key) is not CodeType:
            return
        record = self._records.get(key)
        if record is None:
            if key in self._never:
                return
            if len(self._records) >= _SLOW_LIMIT:
                self._records.clear()  # forgets progress only, never a bar
            record = self._records[key] = _Record()
        if elapsed >= FAST_S or call.error is not None:
            record.streak = 0
            return
        record.streak += 1
        if record.streak < PROMOTE_AFTER << record.strikes:
            return
        with self._adapt_lock:
            # A full table of barred functions stops all promotions, so that
            # forgetting a bar can never let a function hold the loop again.
            if key in self._never or len(self._never) >= _SLOW_LIMIT:
                return
            record.streak = record.clean = 0
            if len(self._inline) >= _SLOW_LIMIT:
                self._inline.clear()
            self._inline[key] = record

    def _strike(self, key: object, record: _Record) -> None:
        """A promoted function was slow or raised on the loop: back to the threads."""
        with self._adapt_lock:
            if self._inline.get(key) is not record:
                return  # a call on another loop has already struck it
            del self._inline[key]
            record.strikes += 1
            record.streak = record.clean = 0
            if record.strikes >= MAX_STRIKES:
                self._never_again(key)
            else:
                self._records[key] = record

    def _bar(self, key: object) -> None:
        """Never run ``key``'s function on the loop again in this process."""
        with self._adapt_lock:
            self._inline.pop(key, None)
            self._never_again(key)
        self._records.pop(key, None)

    def _never_again(self, key: object) -> None:
        if len(self._never) < _SLOW_LIMIT:
            self._never.add(key)


def _code_of(fn: Callable[..., Any]) -> object:
    """What identifies ``fn``'s body: partials and bound methods share their function's."""
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, MethodType):
            fn = fn.__func__
        else:
            break
    code = getattr(fn, "__code__", None)
    if code is not None:
        return code
    try:
        hash(fn)
    except TypeError:
        return type(fn)
    return fn


#: The process's pool: threads are not tied to an event loop, each call
#: answers the loop that made it.
STEP_THREADS = StepThreads()


def _forget_threads_after_fork() -> None:
    """A forked child has none of its parent's threads: start from an empty pool,
    or the child would queue calls for idle threads that do not exist there."""
    global STEP_THREADS
    STEP_THREADS = StepThreads()


os.register_at_fork(after_in_child=_forget_threads_after_fork)
