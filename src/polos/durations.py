"""Durations given as numbers, timedeltas or strings such as ``"1h30m"``, and
the range every duration and wake-up time must stay in.

A wait of a billion days is accepted by arithmetic but not by ``datetime``:
stored as a wake-up time, it broke every later read that turned it into a
``datetime`` (``get_execution``, ``list_executions``, ``polos list``). So
durations and datetimes are range-checked where they enter, and reading turns
any stored time that is still out of range into the nearest representable one.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)\s*")

#: The longest duration Polos takes (a wait, a timeout, a retry delay, a rate
#: period): 100 years. Every wake-up time then fits a ``datetime`` easily.
MAX_DURATION_SECONDS = 100 * 365.25 * 86400
_RANGE = f"between 0 and {MAX_DURATION_SECONDS:.0f} seconds (100 years)"


def parse_duration(value: float | int | str | timedelta) -> float:
    """Seconds in ``value``; raises ``ValueError`` naming the bad input."""
    seconds = _seconds(value)
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {value!r} is out of range: it must be {_RANGE}")
    return seconds


def _seconds(value: float | int | str | timedelta) -> float:
    """Seconds in ``value``, checked for type, sign and finiteness but not range."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_string(value)
    else:
        raise TypeError(
            f"a duration must be seconds, a timedelta or a string like '30s', not {value!r}"
        )
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, not {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


def timeout_seconds(name: str, value: float | int | str | timedelta | None) -> float | None:
    """A timeout option (``None`` for none): positive and at most 100 years."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return seconds


def check_wake_at(when: datetime, now: float) -> float:
    """Epoch seconds of ``when`` (naive is UTC), at most 100 years after ``now``."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    target = aware.timestamp()
    if target - now > MAX_DURATION_SECONDS:
        latest = utc_datetime(now + MAX_DURATION_SECONDS)
        raise ValueError(
            f"wake-up time {when.isoformat()} is out of range: it must be at most 100 years "
            f"ahead (no later than {latest.isoformat()})"
        )
    return target


def utc_datetime(epoch: float) -> datetime:
    """The UTC ``datetime`` of a stored epoch time, never raising.

    Times written before the range checks (or by hand) may be beyond what
    ``datetime`` holds; they read as its nearest end, so one bad row cannot
    break listing for everyone.
    """
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return _LATEST if not epoch < 0 else _EARLIEST


_LATEST = datetime.max.replace(tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _parse_string(text: str) -> float:
    pos, total, matched = 0, 0.0, False
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos, matched = m.end(), True
    if not matched or pos != len(text):
        raise ValueError(
            f"cannot read duration {text!r}; use forms like '500ms', '30s', '5m', '1h30m', '2d', '1w'"
        )
    return total


def seconds_of(
    duration: float | str | timedelta | None = None,
    *,
    seconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    weeks: float = 0,
) -> float:
    """Sum a positional duration and the keyword units, as ``wait_for`` takes them."""
    total = _seconds(duration) if duration is not None else 0.0
    for amount, unit in (
        (seconds, 1),
        (minutes, 60),
        (hours, 3600),
        (days, 86400),
        (weeks, 604800),
    ):
        if amount:
            total += _seconds(amount) * unit
    if total > MAX_DURATION_SECONDS:
        given = {"duration": duration, "seconds": seconds, "minutes": minutes}
        given.update(hours=hours, days=days, weeks=weeks)
        shown = ", ".join(f"{k}={v!r}" for k, v in given.items() if v)
        raise ValueError(f"duration ({shown}) is out of range: it must be {_RANGE}")
    return total


def describe_seconds(seconds: float) -> str:
    """A duration as a person reads it: ``0.42 ms``, ``12 ms``, ``1.25 s``,
    ``3 min 4 s``, ``2 h 5 min``, ``3 d 4 h`` (the CLI and the dashboard both)."""
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"
