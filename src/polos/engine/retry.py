"""Retry policy of ``ctx.step.run``: exponential backoff, capped, jittered.

Jitter matters because failures come in crowds: when a downstream API has an
outage, every run calling it fails within the same second, and without
jitter they would all retry within the same second again, and again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..durations import MAX_DURATION_SECONDS, parse_duration
from ..errors import FatalError, RetryableError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 1.0
    max_delay: float = 10.0
    #: Each backoff is shortened by a random fraction of up to ``jitter`` of it
    #: (0.5: between half and all of it). 0 gives exact delays.
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries cannot be negative, got {self.max_retries}")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_DURATION_SECONDS:  # also refuses nan
                raise ValueError(
                    f"{name}={value!r} is out of range: it must be between 0 and "
                    f"{MAX_DURATION_SECONDS:.0f} seconds (100 years)"
                )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be a fraction between 0 and 1, got {self.jitter!r}")

    def should_retry(self, error: BaseException, retries_done: int) -> bool:
        return not isinstance(error, FatalError) and retries_done < self.max_retries

    def delay(self, error: BaseException, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based).

        A ``RetryableError.retry_after`` is honoured exactly: the server asked for it.
        """
        if isinstance(error, RetryableError) and error.retry_after is not None:
            try:
                return parse_duration(error.retry_after)
            except (TypeError, ValueError):
                pass  # an unreadable retry_after must not break the retry loop: back off
        # Capping the exponent keeps huge retry counts from overflowing a float.
        exponent = min(max(retry_number - 1, 0), 64)
        backoff = float(min(self.max_delay, self.base_delay * 2**exponent))
        return backoff * (1 - self.jitter * random.random())
