"""``ctx.step``: every side effect of a workflow goes through here.

The methods check their arguments and shape what they return; the run
(:class:`~polos.engine.run.ExecutionRun`) owns each step's life: its key,
replay, record, retries, waits and publishing.
"""

from __future__ import annotations

import random as _random
import uuid as _uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..durations import check_wake_at, seconds_of
from ..store.vocabulary import StepKind
from .run import ExecutionRun
from .steps_children import ChildSteps
from .steps_events import EventSteps
from .tracing import user_span


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
        return await self._run.run_step(
            step_key, func, args, kwargs, max_retries, base_delay, max_delay
        )

    # values fixed at first run -----------------------------------------------------
    async def uuid(self, step_key: str) -> str:
        """A random UUID (as a string), the same on every replay."""
        return await self._run.value_step(step_key, StepKind.UUID, _new_uuid)  # type: ignore[no-any-return]

    async def now(self, step_key: str) -> int:
        """Milliseconds since the Unix epoch (as Polos returns it), the same on every replay."""
        clock = self._run.clock
        return await self._run.value_step(step_key, StepKind.NOW, lambda: int(clock.now() * 1000))  # type: ignore[no-any-return]

    async def random(self, step_key: str) -> float:
        """A random float in [0, 1), the same on every replay."""
        return await self._run.value_step(step_key, StepKind.RANDOM, _random.random)  # type: ignore[no-any-return]

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
        await self._run.sleep_until(step_key, lambda now: now + total)

    async def wait_until(self, step_key: str, timestamp: datetime) -> None:
        """Sleep durably until ``timestamp`` (a naive datetime is taken as UTC)."""
        if not isinstance(timestamp, datetime):
            raise TypeError(f"wait_until needs a datetime, got {timestamp!r}")
        target = check_wake_at(timestamp, self._run.clock.now())
        await self._run.sleep_until(step_key, lambda _now: target)

    # helpers --------------------------------------------------------------------------
    def idempotency_key(self, step_key: str) -> str:
        """A key, stable across retries and replays, to pass to external APIs."""
        return f"{self._run.execution_id}:{step_key}"

    def trace(self, name: str, attributes: dict[str, Any] | None = None) -> Any:
        """A span of your own around part of a step or workflow (``with`` or ``async with``);
        it yields the span, which takes ``set_attribute``/``add_event``. Exported with
        the run's spans when tracing is on (see docs/observability.md), else kept in memory."""
        return user_span(self._run, name, attributes)


def _new_uuid() -> str:
    return str(_uuid.uuid4())
