"""Durable state: one interface (:class:`Store`), two backends."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

from .base import Store
from .records import (
    ACTIVE_STATUSES,
    CANCELLED,
    COMPLETED,
    FAILED,
    FINAL_STATUSES,
    QUEUED,
    RUNNING,
    WAITING,
    Claimed,
    ExecutionRow,
    HistoryRow,
    NewExecution,
    StepRow,
    WorkerRow,
)

DEFAULT_SQLITE_PATH = os.path.join(".polos", "polos.db")

__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLED",
    "COMPLETED",
    "DEFAULT_SQLITE_PATH",
    "FAILED",
    "FINAL_STATUSES",
    "QUEUED",
    "RUNNING",
    "WAITING",
    "Claimed",
    "ExecutionRow",
    "HistoryRow",
    "NewExecution",
    "StepRow",
    "Store",
    "WorkerRow",
    "resolve_database_url",
    "store_from_url",
]


def resolve_database_url(database_url: str | None) -> str:
    """The URL to use: the argument, else ``POLOS_DATABASE_URL``, else embedded SQLite."""
    return (
        database_url or os.environ.get("POLOS_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"
    )


def store_from_url(database_url: str | None = None) -> Store:
    """Build (but do not open) the store a URL names.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (add
    ``?synchronous=full`` to fsync every commit), or
    ``postgresql://user@host:port/db`` (add ``?schema=name`` to keep Polos' tables
    in their own schema; see docs/postgres.md for the other options).
    """
    url = resolve_database_url(database_url)
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from .sqlite import SQLiteStore

        path = url.split("://", 1)[1].split("?", 1)[0]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ValueError(f"SQLite URL {url!r} names no file; use sqlite:///path/to/polos.db")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ValueError(f"unknown SQLite URL option(s) {sorted(unknown)}; known: synchronous")
        return SQLiteStore(path, synchronous=options.get("synchronous", "NORMAL"))
    if parsed.scheme in ("postgres", "postgresql"):
        from .postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(
        f"unsupported database URL {url!r}; use sqlite:///path/to/polos.db or "
        "postgresql://user@host:5432/dbname"
    )
