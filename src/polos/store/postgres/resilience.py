"""Riding out a PostgreSQL restart or a cut connection.

An operation that fails because the server went away is retried with
backoff for ``retry_seconds``, then raises :class:`StoreUnavailableError`.
Retrying a write after the connection dropped mid-statement is ambiguous
(it may have committed), so every write of the backend is written to be
idempotent: a fenced write reports success when its own earlier try already
applied, and inserts are guarded against duplicates. The operation is told
whether it is a retry, for the one case (claiming) that needs to look for
the effect of an earlier try.

A full disk is retried the same way (the server recovers once space is
freed), but when the budget runs out it is reported as a :class:`StoreError`
saying so, not as an unreachable server. The outage is logged once when it
starts and once, with its duration, when it ends (see :mod:`..outage_log`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from ...errors import StoreError, StoreUnavailableError
from ..outage_log import OutageLog

log = logging.getLogger("polos.store.postgres")
T = TypeVar("T")

_FIRST_DELAY = 0.05
_MAX_DELAY = 2.0

# Errors that mean "the server or the connection is gone, or the transaction
# lost a race": the statement did not run, or ran and may have committed.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect timeout or command timeout
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08 and "closed in the middle of operation"
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P03 starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full, OOM
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


# Transient, but not an outage: the server is up and refuses work until an
# operator frees space or memory.
_RESOURCES = (asyncpg.exceptions.DiskFullError, asyncpg.exceptions.OutOfMemoryError)


def jittered(delay: float) -> float:
    """``delay`` spread over its upper half, so that workers failing on one
    outage do not all retry in the same instant."""
    return delay * random.uniform(0.5, 1.0)


class Outages:
    """Retries transient failures and logs an outage once, not once per operation."""

    def __init__(self, description: str, retry_seconds: float) -> None:
        self.description = description
        self.retry_seconds = retry_seconds
        self.log = OutageLog(description, log)

    async def run(
        self,
        what: str,
        attempt: Callable[[bool], Awaitable[T]],
        after: Exception | None = None,
    ) -> T:
        """Run ``attempt(retrying)`` until it succeeds or the outage outlasts the budget.

        ``after``: a transient failure of a first try made elsewhere; the
        first try here is then already a retry."""
        delay = _FIRST_DELAY
        give_up_at: float | None = None
        retrying = False
        pending = after
        while True:
            try:
                if pending is not None:
                    first, pending = pending, None
                    raise first  # handled below, as a failure of this loop's own
                result = await attempt(retrying)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                give_up_at = give_up_at or now + self.retry_seconds
                self.log.failed(
                    what,
                    exc,
                    f"retrying with backoff, each operation for up to {self.retry_seconds:g}s",
                )
                if now >= give_up_at:
                    raise _give_up(self.description, what, self.retry_seconds, exc) from exc
                await asyncio.sleep(jittered(min(delay, give_up_at - now)))
                delay = min(delay * 2, _MAX_DELAY)
                retrying = True
                continue
            self.log.succeeded()
            return result


def _give_up(description: str, what: str, seconds: float, exc: BaseException) -> StoreError:
    cause = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, _RESOURCES):
        return StoreError(
            f"{description} refused work for {seconds:g}s while {what} ({cause}); the server "
            "is out of disk space or memory: free some, and the work resumes by itself"
        )
    return StoreUnavailableError(
        f"{description} is unreachable: {what} kept failing for {seconds:g}s ({cause}); "
        "check that the server is running and reachable, then retry"
    )
