"""Retrying transient provider failures with exponential backoff.

The SDKs' own retries are switched off (``max_retries=0``) so this policy is
the only one: one place to configure, and tests that count requests exactly.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from .errors import ProviderUnavailableError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry rate limits, 5xx and network errors.

    ``max_retries`` counts retries after the first attempt. The delay before
    retry ``n`` is ``base_delay * 2**(n-1)``, capped at ``max_delay``, spread by
    up to ``jitter`` (a fraction) so that many workers do not retry in step.
    A Retry-After from the server replaces the computed delay; one longer than
    ``max_retry_after`` ends the retries at once.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    jitter: float = 0.1
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    """Injected by tests to record the delays instead of waiting them out."""

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries cannot be negative, got {self.max_retries}")
        if min(self.base_delay, self.max_delay, self.max_retry_after, self.jitter) < 0:
            raise ValueError("delays and jitter cannot be negative")

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if retry_after is not None:
            return retry_after
        exponent = min(retry_number - 1, 32)  # keeps 2**n from overflowing a float
        base = min(self.max_delay, self.base_delay * 2.0**exponent)
        return base * (1 + random.uniform(-self.jitter, self.jitter))

    def gives_up(self, error: ProviderUnavailableError, retries_done: int) -> bool:
        too_long = error.retry_after is not None and error.retry_after > self.max_retry_after
        return too_long or retries_done >= self.max_retries


NO_RETRIES = RetryPolicy(max_retries=0)


async def call_with_retries(attempt: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Await ``attempt()``, calling it again after each transient failure."""
    retries = 0
    while True:
        try:
            return await attempt()
        except ProviderUnavailableError as error:
            await _wait_or_give_up(error, policy, retries)
            retries += 1


async def stream_with_retries(
    open_stream: Callable[[], AsyncIterator[T]], policy: RetryPolicy
) -> AsyncIterator[T]:
    """Iterate ``open_stream()``, starting over after a transient failure.

    Only a failure before the first item is retried: once items reached the
    caller, starting over would repeat them, so the error is raised instead.
    """
    retries = 0
    while True:
        delivered = False
        try:
            async for item in open_stream():
                delivered = True
                yield item
            return
        except ProviderUnavailableError as error:
            if delivered:
                error.attempts = retries + 1
                raise
            await _wait_or_give_up(error, policy, retries)
            retries += 1


async def _wait_or_give_up(
    error: ProviderUnavailableError, policy: RetryPolicy, retries_done: int
) -> None:
    if policy.gives_up(error, retries_done):
        error.attempts = retries_done + 1
        raise error
    await policy.sleep(policy.delay(retries_done + 1, error.retry_after))


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait, from ``retry-after-ms`` or ``retry-after``.

    ``retry-after`` may be seconds or an HTTP date. Unreadable values are
    ignored (``None``): backing off is always a safe answer.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
