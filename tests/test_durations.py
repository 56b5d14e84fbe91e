"""Durations as numbers, timedeltas or strings such as ``"1h30m"``."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from core_workflows import core_wait_string
from polos import Polos, RetryableError
from polos.durations import parse_duration, seconds_of
from polos.engine.retry import RetryPolicy


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("30sec", 30),
        ("5m", 300),
        ("5min", 300),
        ("2h", 7200),
        ("2d", 172800),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1h 30m 15s", 5415),
        ("1m500ms", 60.5),
        ("1.5h", 5400),
        (" 10s ", 10),
        ("0s", 0),
    ],
)
def test_duration_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value, seconds",
    [(0, 0.0), (5, 5.0), (0.25, 0.25), (timedelta(minutes=2, milliseconds=5), 120.005)],
)
def test_numbers_and_timedeltas(value: object, seconds: float) -> None:
    result = parse_duration(value)  # type: ignore[arg-type]
    assert result == pytest.approx(seconds) and isinstance(result, float)


@pytest.mark.parametrize(
    "text", ["", "10", "abc", "10x", "5s garbage", "s", "-5s", "1e3s", "5 s x"]
)
def test_unreadable_strings_name_the_input(text: str) -> None:
    with pytest.raises(ValueError, match="cannot read duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value", [-1, -0.5, timedelta(seconds=-1), float("nan"), float("inf"), float("-inf")]
)
def test_negative_and_non_finite_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, True, [1], {"s": 1}])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        parse_duration(value)  # type: ignore[arg-type]


def test_seconds_of_sums_positional_and_keyword_units() -> None:
    assert seconds_of("1m", seconds=30) == 90
    assert (
        seconds_of(seconds=1, minutes=1, hours=1, days=1, weeks=1) == 1 + 60 + 3600 + 86400 + 604800
    )
    assert seconds_of(timedelta(seconds=2), minutes=0.5) == 32
    assert seconds_of() == 0


@pytest.mark.parametrize("kwargs", [{"seconds": -1}, {"minutes": -0.1}, {"seconds": float("nan")}])
def test_seconds_of_refuses_bad_units(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        seconds_of(**kwargs)


def test_retry_after_accepts_duration_strings_and_timedeltas() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=1, max_delay=10, jitter=0)
    assert policy.delay(RetryableError("x", retry_after="250ms"), 1) == pytest.approx(0.25)
    assert policy.delay(RetryableError("x", retry_after=timedelta(seconds=3)), 1) == 3
    # an unreadable retry_after falls back to the backoff instead of breaking the retry loop
    assert policy.delay(RetryableError("x", retry_after="soon"), 2) == 2


async def test_wait_for_takes_a_duration_string(polos: Polos) -> None:
    started = time.time()
    handle = await core_wait_string.invoke(polos, "300ms")
    woke = await handle.result(timeout=10)
    assert woke - started >= 0.29
    info = await handle.get()
    waiting = [h for h in info.history if h.event == "waiting"]
    assert len(waiting) == 1 and waiting[0].detail is not None
    planned = waiting[0].detail["wake_at"] - waiting[0].at.timestamp()
    assert planned == pytest.approx(0.3, abs=0.05)
