"""One log line when the database stops working, one when it works again.

During an outage every operation of every execution fails and retries; a
line (or a traceback) per failure buried the one fact an operator needs. So
the store reports an outage here: a warning when it starts, a warning with
its duration when the first operation succeeds again, and only debug lines
in between. Code above the store logs store errors at debug level, because
the store has already said what is wrong.

An outage ends at a success once nothing has failed for a while: during a
full disk some writes still succeed (those that need no new page), and
ending the outage at each of them would log a line pair per retry again.
"A while" is longer than the longest retry delay of the backends (2 s), or
four times the longest pause between two failures of this outage (backoff
doubles a delay, jitter can double it again), because retries may come as
rarely as a lease expires.
"""

from __future__ import annotations

import logging
import time

#: Seconds without a failure before a success may end the outage (at least).
SETTLE_SECONDS = 3.0
#: ... and at most, however rare the retries.
MAX_SETTLE_SECONDS = 300.0


class OutageLog:
    def __init__(self, description: str, logger: logging.Logger) -> None:
        self.description = description
        self._log = logger
        self._down_since: float | None = None
        self._last_failure = 0.0
        self._settle = SETTLE_SECONDS
        self._first_success: float | None = None  # since the last failure

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, what: str, exc: BaseException, hint: str = "") -> None:
        """``what`` failed with ``exc``; the first failure of an outage logs a warning."""
        now = time.monotonic()
        self._first_success = None
        if self._down_since is not None:
            pause = 4 * (now - self._last_failure)
            self._settle = min(max(self._settle, pause), MAX_SETTLE_SECONDS)
            self._last_failure = now
            self._log.debug("%s: %s failed again: %r", self.description, what, exc)
            return
        self._down_since = self._last_failure = now
        self._settle = SETTLE_SECONDS
        self._log.warning(
            "%s stopped working: %s failed (%s: %s)%s",
            self.description,
            what,
            type(exc).__name__,
            exc,
            f"; {hint}" if hint else "",
        )

    def succeeded(self) -> None:
        """An operation worked: if an outage was reported and has settled, report its
        end and its length (up to the first success after the last failure)."""
        if self._down_since is None:
            return
        now = time.monotonic()
        if self._first_success is None:
            self._first_success = now
        if now - self._last_failure < self._settle:
            return
        lasted = self._first_success - self._down_since
        self._down_since = None
        self._log.warning("%s works again, after %.1fs", self.description, lasted)
