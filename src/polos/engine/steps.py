"""``ctx.step``: every side effect of a workflow goes through here."""

from __future__ import annotations

import asyncio
import functools
import inspect
import random as _random
import time
import uuid as _uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .. import serialization
from ..durations import check_wake_at, seconds_of
from ..errors import PayloadTooLargeError, SerializationError, StepExecutionError
from ..store.vocabulary import StepKind, WaitKind
from .retry import RetryPolicy
from .run import ExecutionRun, error_record
from .signals import Stopped
from .steps_children import ChildSteps
from .steps_events import EventSteps
from .tracing import Span


class Step(ChildSteps, EventSteps):
    """The step API of one execution, reached as ``ctx.step``."""

    def __init__(self, run: ExecutionRun) -> None:
        self._run = run

    # run -------------------------------------------------------------------------
    async def run(
        self,
        step_key: str,
        func: Callable[..., Any],
        *args: Any,
        max_retries: int = 2,
        base_delay: float = 1.0,
        max_delay: float = 10.0,
        **kwargs: Any,
    ) -> Any:
        """Run ``func(*args, **kwargs)`` once, durably; sync functions run in a thread.

        A failure is retried with exponential backoff up to ``max_retries``
        times (``FatalError`` never is); the final failure is recorded and
        raised as ``StepExecutionError``, on this run and on every replay.
        """
        run = self._run
        name = function_name(func)
        recorded = run.take_key(step_key, StepKind.RUN, name)
        if recorded is not None:
            return run.replay(recorded)
        policy = RetryPolicy(max_retries, base_delay, max_delay)
        retries = self._durable_retries_done(step_key)
        while True:
            try:
                value = await call_function(func, args, kwargs)
                output = run.encode(f"output of step {step_key!r}", value)
                break
            except asyncio.CancelledError:
                raise
            except (SerializationError, PayloadTooLargeError) as exc:
                # Deterministic: retrying cannot help, so fail the step now.
                await run.record(step_key, StepKind.RUN, name, None, error_record(exc, retries + 1))
                raise StepExecutionError.for_step(
                    step_key, type(exc).__name__, str(exc), retries + 1
                ) from exc
            except Exception as exc:
                if not policy.should_retry(exc, retries):
                    await run.record(
                        step_key, StepKind.RUN, name, None, error_record(exc, retries + 1)
                    )
                    raise StepExecutionError.for_step(
                        step_key, type(exc).__name__, str(exc), retries + 1
                    ) from exc
                retries += 1
                delay = policy.delay(exc, retries)
                await run.note_retry(step_key, retries, delay, exc)
                if delay >= DURABLE_RETRY_SECONDS:
                    # A long pause (a rate limit's Retry-After, say) waits durably:
                    # the slot is freed, and the count survives in the wait records.
                    await self._sleep_until(
                        _retry_key(step_key, retries), functools.partial(_after, delay)
                    )
                    continue
                await asyncio.sleep(delay)
                if run.stop_reason is not None:
                    raise Stopped(run.stop_reason) from None
        await run.record(step_key, StepKind.RUN, name, output)
        return value

    def _durable_retries_done(self, step_key: str) -> int:
        """Retries of this step already waited for durably (on an earlier attempt)."""
        done = 0
        while _retry_key(step_key, done + 1) in self._run.recorded:
            done += 1
            self._run.take_key(_retry_key(step_key, done), StepKind.WAIT, "")
        return done

    # values fixed at first run -----------------------------------------------------
    async def uuid(self, step_key: str) -> str:
        """A random UUID (as a string), the same on every replay."""
        return await self._value(step_key, StepKind.UUID, lambda: str(_uuid.uuid4()))  # type: ignore[no-any-return]

    async def now(self, step_key: str) -> int:
        """Milliseconds since the Unix epoch (as Polos returns it), the same on every replay."""
        return await self._value(step_key, StepKind.NOW, lambda: int(time.time() * 1000))  # type: ignore[no-any-return]

    async def random(self, step_key: str) -> float:
        """A random float in [0, 1), the same on every replay."""
        return await self._value(step_key, StepKind.RANDOM, _random.random)  # type: ignore[no-any-return]

    async def _value(self, step_key: str, kind: StepKind, make: Callable[[], Any]) -> Any:
        run = self._run
        recorded = run.take_key(step_key, kind, "")
        if recorded is not None:
            return run.replay(recorded)
        value = make()
        await run.record(step_key, kind, "", serialization.dumps(value))
        return value

    # durable sleeps -------------------------------------------------------------------
    async def wait_for(
        self,
        step_key: str,
        seconds: float | str | timedelta | None = None,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
    ) -> None:
        """Sleep durably; the worker slot is freed while waiting."""
        # Polos's positions (seconds, minutes, ...); a duration ("2h", a timedelta)
        # is accepted in the first place too.
        duration: str | timedelta | None = None
        plain: float = 0
        if isinstance(seconds, (str, timedelta)):
            duration = seconds
        elif seconds is not None:
            plain = seconds
        total = seconds_of(
            duration,
            seconds=plain,
            minutes=minutes,
            hours=hours,
            days=days,
            weeks=weeks,
        )
        await self._sleep_until(step_key, lambda now: now + total)

    async def wait_until(self, step_key: str, timestamp: datetime) -> None:
        """Sleep durably until ``timestamp`` (a naive datetime is taken as UTC)."""
        if not isinstance(timestamp, datetime):
            raise TypeError(f"wait_until needs a datetime, got {timestamp!r}")
        target = check_wake_at(timestamp, self._run.clock.now())
        await self._sleep_until(step_key, lambda _now: target)

    async def _sleep_until(self, step_key: str, wake_at_from: Callable[[float], float]) -> None:
        run = self._run
        if run.take_key(step_key, StepKind.WAIT, "") is not None:
            return
        now = run.clock.now()
        wake_at = wake_at_from(now)
        if wake_at <= now:
            await run.record(step_key, StepKind.WAIT, "", "null")
            return
        await run.park(step_key, WaitKind.TIMER, wake_at)

    # helpers --------------------------------------------------------------------------
    def idempotency_key(self, step_key: str) -> str:
        """A key, stable across retries and replays, to pass to external APIs."""
        return f"{self._run.execution_id}:{step_key}"

    def trace(self, name: str, attributes: dict[str, Any] | None = None) -> Span:
        """A custom span (``with`` or ``async with``)."""
        return Span(name, attributes)


#: Retry delays at least this long wait durably instead of sleeping in memory.
DURABLE_RETRY_SECONDS = 5.0


def _after(delay: float, now: float) -> float:
    return now + delay


def _retry_key(step_key: str, retry: int) -> str:
    return f"{step_key}::retry{retry}"


def function_name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    inner = getattr(fn, "__polos_step_fn__", fn)
    return getattr(inner, "__qualname__", None) or type(inner).__qualname__


async def call_function(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Await async functions on the loop; run plain functions in a thread."""
    if inspect.iscoroutinefunction(fn) or getattr(fn, "__polos_async__", False):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
