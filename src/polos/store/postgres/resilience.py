"""Riding out a PostgreSQL restart or a cut connection.

An operation that fails because the server went away is retried with
backoff for ``retry_seconds``, then raises :class:`StoreUnavailableError`.
Retrying a write after the connection dropped mid-statement is ambiguous
(it may have committed), so every write of the backend is written to be
idempotent: a fenced write reports success when its own earlier try already
applied, and inserts are guarded against duplicates. The operation is told
whether it is a retry, for the one case (claiming) that needs to look for
the effect of an earlier try.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from ...errors import StoreUnavailableError

log = logging.getLogger("polos.store.postgres")
T = TypeVar("T")

_FIRST_DELAY = 0.05
_MAX_DELAY = 2.0
_WARN_EVERY = 5.0

# Errors that mean "the server or the connection is gone, or the transaction
# lost a race": the statement did not run, or ran and may have committed.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect timeout or command timeout
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08 and "closed in the middle of operation"
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P03 starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # deadlock or serialization failure
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a fail-over in progress
    asyncpg.exceptions.InternalClientError,  # protocol state broken by a dropped connection
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    # asyncpg raises a bare InterfaceError when a pooled connection was closed
    # under it; a closed *pool* (the store was closed) is not worth retrying.
    if isinstance(exc, asyncpg.InterfaceError):
        text = str(exc)
        return "connection is closed" in text or "connection was closed" in text
    return False


class Outages:
    """Retries transient failures and logs an outage once, not once per operation."""

    def __init__(self, description: str, retry_seconds: float) -> None:
        self.description = description
        self.retry_seconds = retry_seconds
        self._down_since: float | None = None
        self._last_warning = 0.0

    async def run(self, what: str, attempt: Callable[[bool], Awaitable[T]]) -> T:
        """Run ``attempt(retrying)`` until it succeeds or the outage outlasts the budget."""
        delay = _FIRST_DELAY
        give_up_at: float | None = None
        retrying = False
        while True:
            try:
                result = await attempt(retrying)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                give_up_at = give_up_at or now + self.retry_seconds
                self._note_failure(what, exc, now)
                if now >= give_up_at:
                    raise StoreUnavailableError(
                        f"{self.description} is unreachable: {what} kept failing for "
                        f"{self.retry_seconds:g}s ({type(exc).__name__}: {exc}); check that the "
                        "server is running and reachable, then retry"
                    ) from exc
                # Jitter keeps many workers from reconnecting in lockstep.
                await asyncio.sleep(min(delay, give_up_at - now) * random.uniform(0.5, 1.0))
                delay = min(delay * 2, _MAX_DELAY)
                retrying = True
                continue
            self._note_success()
            return result

    def _note_failure(self, what: str, exc: BaseException, now: float) -> None:
        if self._down_since is None:
            self._down_since = now
        elif now - self._last_warning < _WARN_EVERY:
            log.debug("%s failed again: %r", what, exc)
            return
        self._last_warning = now
        log.warning(
            "%s: %s failed (%s: %s); retrying with backoff for up to %gs (down for %.1fs)",
            self.description,
            what,
            type(exc).__name__,
            exc,
            self.retry_seconds,
            now - self._down_since,
        )

    def _note_success(self) -> None:
        if self._down_since is not None:
            log.warning(
                "%s is reachable again after %.1fs",
                self.description,
                time.monotonic() - self._down_since,
            )
            self._down_since = None
