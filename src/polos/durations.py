"""Durations given as numbers, timedeltas or strings such as ``"1h30m"``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

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


def parse_duration(value: float | int | str | timedelta) -> float:
    """Seconds in ``value``; raises ``ValueError`` naming the bad input."""
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
    total = parse_duration(duration) if duration is not None else 0.0
    for amount, unit in (
        (seconds, 1),
        (minutes, 60),
        (hours, 3600),
        (days, 86400),
        (weeks, 604800),
    ):
        if amount:
            total += parse_duration(amount) * unit
    return total
