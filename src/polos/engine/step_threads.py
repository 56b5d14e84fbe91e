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
from types import MethodType
from typing import Any

#: How long the event loop waits, blocked, for a plain function to return
#: before it goes back to other work. Bounds how long one step can hold the loop.
SYNC_WAIT_S = 0.0005
MAX_THREADS = 64
IDLE_EXIT_S = 30.0
#: Functions (by code object) seen to outlast SYNC_WAIT_S; bounded so that
#: generated functions cannot grow it forever.
_SLOW_LIMIT = 4096


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

    async def call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """``fn(*args, **kwargs)`` on a pool thread, without holding the loop for long."""
        call = _Call(fn, args, kwargs)
        key = _code_of(fn)
        self._submit(call)
        if key not in self._slow and call.done.acquire(timeout=SYNC_WAIT_S):
            self._learn(key, call.elapsed)
            return call.outcome()
        with call.mutex:
            if call.done.acquire(blocking=False):
                self._learn(key, call.elapsed)
                return call.outcome()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            call.future = future
        try:
            return await future
        finally:
            if call.elapsed:  # zero when the wait was cancelled before the function returned
                self._learn(key, call.elapsed)

    def _learn(self, key: object, elapsed: float) -> None:
        """Remember whether ``key``'s function outlasts the window, for its next call."""
        if elapsed > SYNC_WAIT_S:
            if len(self._slow) >= _SLOW_LIMIT:
                self._slow.clear()
            self._slow.add(key)
        elif self._slow:
            self._slow.discard(key)


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
