"""Durable state: one interface (:class:`Store`), two backends."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

from ..errors import ConfigurationError
from .base import Store
from .eager import Created, EagerClaim, Started
from .records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    WAITING,
    Claimed,
    ExecutionRow,
    HistoryRow,
    NewExecution,
    ServedWorkflow,
    StepRow,
    WorkerRow,
)
from .vocabulary import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    HistoryEvent,
    ResumedBy,
    Status,
    StepKind,
    WaitKind,
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
    "Created",
    "EagerClaim",
    "ExecutionRow",
    "HistoryEvent",
    "HistoryRow",
    "NewExecution",
    "ResumedBy",
    "ServedWorkflow",
    "Started",
    "Status",
    "StepKind",
    "StepRow",
    "Store",
    "WaitKind",
    "WorkerRow",
    "resolve_database_url",
    "store_from_url",
]


def resolve_database_url(database_url: str | None) -> str:
    """The URL to use: the argument, else ``POLOS_DATABASE_URL``, else embedded SQLite.

    An empty URL (``""``, or the variable set to nothing) is an error, not "use
    the default": it usually means a variable that was meant to hold the
    production database is unset, and quietly opening ``./.polos/polos.db``
    instead would look like data loss.
    """
    if database_url is None:
        database_url = os.environ.get("POLOS_DATABASE_URL")
        where = "POLOS_DATABASE_URL"
    else:
        where = "database_url"
    if database_url is None:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if not isinstance(database_url, str) or not database_url.strip():
        raise ConfigurationError(
            f"{where} is {database_url!r}, which names no database; give a URL such as "
            "sqlite:///path/to/polos.db or postgresql://user@host:5432/db, or leave it "
            f"unset for the embedded default sqlite:///{DEFAULT_SQLITE_PATH}"
        )
    return database_url


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
            raise ConfigurationError(
                f"SQLite URL {url!r} names no file; use sqlite:///path/to/polos.db"
            )
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ConfigurationError(
                f"unknown SQLite URL option(s) {sorted(unknown)}; known: synchronous"
            )
        return SQLiteStore(path, synchronous=options.get("synchronous", "NORMAL"))
    if parsed.scheme in ("postgres", "postgresql"):
        from .postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigurationError(
        f"unsupported database URL {url!r}; use sqlite:///path/to/polos.db or "
        "postgresql://user@host:5432/dbname"
    )
