"""Riding out a busy or failing SQLite database.

Two kinds of trouble are waited out, with jittered backoff:

- another process holds the write lock (short: SQLite's own busy wait is
  kept to milliseconds so the event loop never blocks, the rest of the wait
  is an ``asyncio.sleep``); after a minute it is :class:`StoreUnavailableError`;
- the disk is full, the file became read-only or unreachable: an operator
  can cure these, so the operation retries for a minute and then raises
  :class:`StoreError` saying what to fix. The run is never failed for it, and
  the work resumes once the cause is gone.

Anything else the database refuses (a constraint, a bad statement) is the
caller's error and is raised as it is. Faults are logged once per outage
(see :mod:`..outage_log`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from ...errors import StoreError, StoreUnavailableError
from ..outage_log import OutageLog

log = logging.getLogger("polos.store.sqlite")
T = TypeVar("T")

LOCK_GIVE_UP_SECONDS = 60.0
FAULT_GIVE_UP_SECONDS = 60.0
_MAX_LOCK_DELAY = 0.05
_MAX_FAULT_DELAY = 2.0
# Primary result codes (the low byte of sqlite_errorcode) an operator can cure.
_CURABLE = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY}
_CURABLE.add(sqlite3.SQLITE_CANTOPEN)


def is_busy(exc: sqlite3.DatabaseError) -> bool:
    """Another process holds the lock: worth waiting for."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def is_store_fault(exc: sqlite3.DatabaseError) -> bool:
    """The database itself failed (as opposed to a constraint or a bad statement)."""
    return type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError)


def is_curable(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _CURABLE


class Faults:
    def __init__(self, description: str) -> None:
        self.description = description
        self.outages = OutageLog(description, log)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (one statement or transaction), waiting out locks and curable faults."""
        lock_delay, fault_delay = 0.001, 0.05
        lock_deadline: float | None = None
        fault_deadline: float | None = None
        while True:
            try:
                out = fn()
            except sqlite3.DatabaseError as exc:
                now = time.monotonic()
                if is_busy(exc):
                    lock_deadline = lock_deadline or now + LOCK_GIVE_UP_SECONDS
                    if now > lock_deadline:
                        raise StoreUnavailableError(
                            f"{self.description} stayed locked by another process for "
                            f"{LOCK_GIVE_UP_SECONDS:.0f}s; is a process stuck holding a "
                            "transaction?"
                        ) from exc
                    await asyncio.sleep(_jittered(lock_delay))
                    lock_delay = min(lock_delay * 2, _MAX_LOCK_DELAY)
                    continue
                if not is_store_fault(exc):
                    raise  # a constraint or a misuse: the caller's error, as it is
                self.outages.failed("an operation", exc, "fix the cause and work resumes")
                fault_deadline = fault_deadline or now + FAULT_GIVE_UP_SECONDS
                if not is_curable(exc) or now > fault_deadline:
                    raise StoreError(
                        f"{self.description} refused work: {exc}; free disk space or fix the "
                        "file (permissions, mount), and the work resumes by itself"
                    ) from exc
                await asyncio.sleep(_jittered(fault_delay))
                fault_delay = min(fault_delay * 2, _MAX_FAULT_DELAY)
                continue
            self.outages.succeeded()
            return out


def _jittered(delay: float) -> float:
    """Spread over the upper half, so that waiters do not all retry at once."""
    return delay * random.uniform(0.5, 1.0)
