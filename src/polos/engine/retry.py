"""Retry policy of ``ctx.step.run``: exponential backoff, capped."""

from __future__ import annotations

from dataclasses import dataclass

from ..durations import MAX_DURATION_SECONDS, parse_duration
from ..errors import FatalError, RetryableError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 1.0
    max_delay: float = 10.0

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

    def should_retry(self, error: BaseException, retries_done: int) -> bool:
        return not isinstance(error, FatalError) and retries_done < self.max_retries

    def delay(self, error: BaseException, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        if isinstance(error, RetryableError) and error.retry_after is not None:
            try:
                return parse_duration(error.retry_after)
            except (TypeError, ValueError):
                pass  # an unreadable retry_after must not break the retry loop: back off
        # Capping the exponent keeps huge retry counts from overflowing a float.
        exponent = min(max(retry_number - 1, 0), 64)
        return float(min(self.max_delay, self.base_delay * 2**exponent))
