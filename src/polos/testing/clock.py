"""A clock a test moves by hand, so durable sleeps and schedules fire at once.

The engine reads time only through its ``Clock`` (:mod:`polos.engine.clock`):
when runs wake, when schedules tick, what ``ctx.step.now`` returns. Give an
embedded ``Polos`` a ``TestClock`` and ``clock.advance(days=3)`` makes a
``ctx.step.wait_for("cool_off", days=3)`` due at once: the worker's timer
loop is woken and resumes the run, with no real waiting.

Advance while runs wait, not in the middle of a step: leases are measured on
the same clock, so a jump past a running step's lease hands it back to the
queue (it runs again, as after a crash).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..durations import seconds_of


class TestClock:
    """Moves only when told to, but for ``tick`` seconds (a microsecond) at each
    reading, so what happens one after another is stamped in that order (steps
    sort by when they were recorded). ``start``: epoch seconds or a datetime
    (naive means UTC); default: the real time when it is made."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, start: float | datetime | None = None, *, tick: float = 1e-6) -> None:
        self._now = _epoch(start) if start is not None else time.time()
        self.tick = tick
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        self._now += self.tick
        return self._now

    def as_datetime(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now, UTC)

    def advance(
        self,
        seconds: float | str | timedelta = 0,
        *,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
    ) -> float:
        """Move forward (``advance(days=3)``, ``advance("2h")``); returns the new time.
        What is due by then fires: the worker is woken at once."""
        plain = seconds if isinstance(seconds, int | float) else 0
        duration = None if isinstance(seconds, int | float) else seconds
        step = seconds_of(
            duration, seconds=plain, minutes=minutes, hours=hours, days=days, weeks=weeks
        )
        if step < 0:
            raise ValueError(f"a TestClock only moves forward, got {step} seconds")
        return self.set(self._now + step)

    def set(self, moment: float | datetime) -> float:
        """Jump to ``moment`` (not before the current time); returns it."""
        target = _epoch(moment)
        if target < self._now:
            raise ValueError(
                f"a TestClock only moves forward: {target} is before its time {self._now}"
            )
        self._now = target
        for wake in list(self._listeners):
            wake()
        return self._now

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` each time the clock moves (a worker's timer loop, say)."""
        self._listeners.append(listener)


def _epoch(moment: float | datetime) -> float:
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.timestamp()
    return float(moment)
