"""The reference: one raw autocommit INSERT of a step-like row per iteration.

On SQLite this is the stdlib ``sqlite3`` module on a fresh file in WAL mode
with ``synchronous=NORMAL`` (Polos's defaults), into a table shaped like
Polos's ``steps`` table. On PostgreSQL it is one ``asyncpg`` ``execute`` per
row (one network round trip), for context only: the PostgreSQL targets are
ratios against DBOS.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from _targets import Target
from _timing import inner_runs, per_item

_CREATE = """
CREATE TABLE steps (
    execution_id TEXT NOT NULL,
    step_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    output TEXT,
    error TEXT,
    attempt INTEGER NOT NULL,
    created_at {real} NOT NULL,
    PRIMARY KEY (execution_id, step_key)
){suffix}
"""
_SQLITE_INSERT = "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_PG_INSERT = "INSERT INTO steps VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
_WARMUP = 100


def _row(execution_id: str, i: int) -> tuple[Any, ...]:
    return (execution_id, f"step-{i}", "run", "trivial", str(i), None, 1, time.time())


def sqlite_insert(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    n = int(params["steps"])
    conn = sqlite3.connect(target["path"], isolation_level=None)  # autocommit
    try:
        journal = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=NORMAL")
        synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
        conn.execute(_CREATE.format(real="REAL", suffix=" WITHOUT ROWID"))
        warm = str(uuid.uuid4())
        for i in range(_WARMUP):
            conn.execute(_SQLITE_INSERT, _row(warm, i))
        totals = []
        for _ in range(inner_runs(params)):
            execution_id = str(uuid.uuid4())
            started = time.perf_counter()
            for i in range(n):
                conn.execute(_SQLITE_INSERT, _row(execution_id, i))
            totals.append(time.perf_counter() - started)
    finally:
        conn.close()
    return {
        **per_item(totals, n, "per_insert_us"),
        "journal_mode": journal,
        "synchronous": synchronous,
    }


async def postgres_insert(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    n = int(params["steps"])
    conn = await asyncpg.connect(target["url"], server_settings={"search_path": target["schema"]})
    try:
        await conn.execute(_CREATE.format(real="DOUBLE PRECISION", suffix=""))
        warm = str(uuid.uuid4())
        for i in range(_WARMUP):
            await conn.execute(_PG_INSERT, *_row(warm, i))
        totals = []
        for _ in range(inner_runs(params)):
            execution_id = str(uuid.uuid4())
            started = time.perf_counter()
            for i in range(n):
                await conn.execute(_PG_INSERT, *_row(execution_id, i))
            totals.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return per_item(totals, n, "per_insert_us")
