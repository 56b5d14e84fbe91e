"""SQLite backend: one file, zero set-up, the embedded default.

The connection lives on the event loop's thread. Every transition is one
short transaction (WAL mode, ``synchronous=NORMAL``: a commit does not wait
for the disk), so it holds the loop for tens of microseconds, which is far
cheaper than hopping to a thread. When another process holds the write lock,
SQLite's own busy wait is kept to a few milliseconds and the rest of the wait
is an ``asyncio.sleep`` with backoff, so the loop never blocks for long.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from ...errors import StoreUnavailableError
from ..base import Store
from ..hub import Hub
from ..records import (
    CANCELLED,
    EXECUTION_COLUMNS,
    Claimed,
    ExecutionRow,
    HistoryRow,
    NewExecution,
    StepRow,
    WorkerRow,
)
from ..sql import load_migrations, load_queries

log = logging.getLogger("polos.store.sqlite")
T = TypeVar("T")

_Q = load_queries(__package__ or "polos.store.sqlite", columns=EXECUTION_COLUMNS)
_BUSY_TIMEOUT_S = 0.005
_LOCK_GIVE_UP_S = 60.0


class SQLiteStore(Store):
    def __init__(self, path: str, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous.upper()
        key = path if path == ":memory:" else os.path.realpath(path)
        self.hub = Hub.for_database(f"sqlite:{key}")
        self.description = f"SQLite database {path}"
        self._conn: sqlite3.Connection | None = None

    # lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_S,
            cached_statements=256,
        )
        conn.row_factory = None
        self._conn = conn
        await self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=OFF")
        await self._retry(self._migrate)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _migrate(self) -> None:
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS polos_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM polos_migrations")}
            for version, name, statements in load_migrations(f"{__package__}"):
                if version in done:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO polos_migrations VALUES (?, ?, ?)", (version, name, time.time())
                )
                log.info("applied migration %s", name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # plumbing ----------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError(
                f"{self.description} is not open; use 'async with Polos()' or await client.start()"
            )
        return self._conn

    async def _retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; while the database is locked by another process, back off."""
        delay = 0.001
        deadline: float | None = None
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + _LOCK_GIVE_UP_S
                if now > deadline:
                    raise StoreUnavailableError(
                        f"{self.description} stayed locked by another process for "
                        f"{_LOCK_GIVE_UP_S:.0f}s; is a process stuck holding a transaction?"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)

    async def _tx(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` in one write transaction (BEGIN IMMEDIATE ... COMMIT)."""
        conn = self._db

        def run() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = body(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return out

        return await self._retry(run)

    async def _one(self, query: str, params: Sequence[Any]) -> int:
        """One autocommit write statement; returns the number of rows it changed."""
        conn = self._db
        return await self._retry(lambda: conn.execute(query, params).rowcount)

    # submitting ----------------------------------------------------------------
    async def create_execution(self, new: NewExecution) -> None:
        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                _Q["insert_execution"],
                (
                    new.id,
                    new.workflow_id,
                    new.payload,
                    new.created_at,
                    new.created_at,
                    new.parent_execution_id,
                    new.root_execution_id,
                    new.root_workflow_id,
                    new.step_key,
                    new.session_id,
                    new.user_id,
                ),
            )
            conn.execute(_Q["insert_history"], (new.id, new.created_at, "created", 0, None))

        await self._tx(body)
        self.hub.work_queued()

    # claiming and leases -------------------------------------------------------
    async def claim(
        self,
        worker_id: str,
        workflow_ids: Sequence[str],
        limit: int,
        now: float,
        lease_seconds: float,
    ) -> list[Claimed]:
        wf_json = orjson.dumps(list(workflow_ids)).decode()

        def body(conn: sqlite3.Connection) -> list[Claimed]:
            rows = conn.execute(
                _Q["claim"], (worker_id, now + lease_seconds, now, now, wf_json, limit)
            ).fetchall()
            if not rows:
                return []
            claimed = {row[0]: Claimed(_execution(row)) for row in rows}
            detail = orjson.dumps({"owner": worker_id}).decode()
            conn.executemany(
                _Q["insert_history"],
                [
                    (c.execution.id, now, "claimed", c.execution.attempt, detail)
                    for c in claimed.values()
                ],
            )
            resumed = [c.execution.id for c in claimed.values() if c.execution.attempt > 1]
            if resumed:
                ids = orjson.dumps(resumed).decode()
                for step in conn.execute(_Q["steps_of_many"], (ids,)):
                    claimed[step[7]].steps.append(StepRow(*step))
            return list(claimed.values())

        if limit <= 0 or not workflow_ids:
            return []
        return await self._tx(body)

    async def heartbeat(
        self,
        worker_id: str,
        leases: Sequence[tuple[str, int]],
        now: float,
        lease_seconds: float,
    ) -> set[str]:
        def body(conn: sqlite3.Connection) -> set[str]:
            conn.execute(_Q["heartbeat_worker"], (now, worker_id))
            conn.execute(_Q["renew_leases"], (now + lease_seconds, worker_id))
            if not leases:
                return set()
            ids = orjson.dumps([lease[0] for lease in leases]).decode()
            current = {row[0]: row for row in conn.execute(_Q["lease_states"], (ids,))}
            lost = set()
            for execution_id, attempt in leases:
                row = current.get(execution_id)
                if row is None or row[1] != attempt or row[2] != "running" or row[3] != worker_id:
                    lost.add(execution_id)
            return lost

        return await self._tx(body)

    async def release_execution(self, execution_id: str, attempt: int, now: float) -> bool:
        def body(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(_Q["release_execution"], (now, execution_id, attempt)).rowcount
            if changed:
                conn.execute(_Q["insert_history"], (execution_id, now, "released", attempt, None))
            return bool(changed)

        released = await self._tx(body)
        if released:
            self.hub.work_queued()
        return released

    async def requeue_expired_leases(self, now: float) -> int:
        def body(conn: sqlite3.Connection) -> int:
            conn.execute(_Q["history_for_expired"], (now, now))
            return conn.execute(_Q["requeue_expired"], (now, now)).rowcount

        count = await self._tx(body)
        if count:
            self.hub.work_queued()
        return count

    async def requeue_worker(self, worker_id: str, now: float) -> int:
        def body(conn: sqlite3.Connection) -> int:
            conn.execute(_Q["history_for_dead_worker"], (now, worker_id))
            count = conn.execute(_Q["requeue_owned"], (now, worker_id)).rowcount
            conn.execute(_Q["delete_worker"], (worker_id,))
            return count

        count = await self._tx(body)
        if count:
            self.hub.work_queued()
        return count

    # steps, waits and outcomes ---------------------------------------------------
    async def record_step(self, execution_id: str, attempt: int, step: StepRow) -> bool:
        changed = await self._one(
            _Q["record_step"],
            (
                execution_id,
                step.step_key,
                step.kind,
                step.name,
                step.output,
                step.error,
                attempt,
                step.created_at,
                execution_id,
                attempt,
            ),
        )
        return changed == 1

    async def begin_wait(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: str,
        wake_at: float | None,
        now: float,
    ) -> bool:
        detail = orjson.dumps({"step_key": step_key, "kind": kind, "wake_at": wake_at}).decode()

        def body(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                _Q["begin_wait"], (step_key, kind, wake_at, now, execution_id, attempt)
            ).rowcount
            if changed:
                conn.execute(_Q["insert_history"], (execution_id, now, "waiting", attempt, detail))
            return bool(changed)

        parked = await self._tx(body)
        if parked and wake_at is not None:
            self.hub.timer_set()
        return parked

    async def complete_execution(
        self, execution_id: str, attempt: int, result: str, now: float
    ) -> bool:
        return await self._finish(
            "complete_execution", "completed", execution_id, attempt, result, now
        )

    async def fail_execution(self, execution_id: str, attempt: int, error: str, now: float) -> bool:
        return await self._finish("fail_execution", "failed", execution_id, attempt, error, now)

    async def _finish(
        self, query: str, event: str, execution_id: str, attempt: int, value: str, now: float
    ) -> bool:
        def body(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(_Q[query], (value, now, now, execution_id, attempt)).rowcount
            if changed:
                conn.execute(_Q["insert_history"], (execution_id, now, event, attempt, None))
            return bool(changed)

        done = await self._tx(body)
        if done:
            self.hub.execution_finished(execution_id)
        return done

    async def add_history(
        self, execution_id: str, attempt: int, event: str, detail: str | None, now: float
    ) -> None:
        await self._one(_Q["insert_history"], (execution_id, now, event, attempt, detail))

    # timers --------------------------------------------------------------------
    async def fire_due_timers(self, now: float) -> int:
        def body(conn: sqlite3.Connection) -> int:
            conn.execute(_Q["record_due_timers"], (now, now))
            conn.execute(_Q["history_for_due_timers"], (now, now))
            return conn.execute(_Q["requeue_due_timers"], (now, now)).rowcount

        count = await self._tx(body)
        if count:
            self.hub.work_queued()
        return count

    async def next_timer_at(self) -> float | None:
        conn = self._db
        row = await self._retry(lambda: conn.execute(_Q["next_timer_at"]).fetchone())
        return row[0] if row else None

    # cancellation ------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str, now: float) -> ExecutionRow | None:
        def body(conn: sqlite3.Connection) -> tuple[ExecutionRow | None, bool]:
            before = conn.execute(_Q["get_execution"], (execution_id,)).fetchone()
            if before is None:
                return None, False
            changed = conn.execute(_Q["cancel_execution"], (now, now, execution_id)).rowcount
            if changed:
                detail = orjson.dumps({"previous_status": before[2]}).decode()
                conn.execute(
                    _Q["insert_history"], (execution_id, now, CANCELLED, before[6], detail)
                )
            after = conn.execute(_Q["get_execution"], (execution_id,)).fetchone()
            return _execution(after), bool(changed)

        row, changed = await self._tx(body)
        if changed:
            self.hub.execution_cancelled(execution_id)
        return row

    # workers ---------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None:
        await self._one(
            _Q["upsert_worker"],
            (worker.worker_id, worker.hostname, worker.pid, worker.started_at, worker.heartbeat_at),
        )

    async def unregister_worker(self, worker_id: str) -> None:
        await self._one(_Q["delete_worker"], (worker_id,))

    async def list_workers(self) -> list[WorkerRow]:
        return [WorkerRow(*row) for row in await self._fetch(_Q["list_workers"], ())]

    # reading ---------------------------------------------------------------------------
    async def _fetch(self, query: str, params: Sequence[Any]) -> list[Any]:
        conn = self._db
        return await self._retry(lambda: conn.execute(query, params).fetchall())

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        rows = await self._fetch(_Q["get_execution"], (execution_id,))
        return _execution(rows[0]) if rows else None

    async def get_executions(self, execution_ids: Sequence[str]) -> list[ExecutionRow]:
        ids = orjson.dumps(list(execution_ids)).decode()
        return [_execution(row) for row in await self._fetch(_Q["get_executions"], (ids,))]

    async def list_steps(self, execution_id: str) -> list[StepRow]:
        return [StepRow(*row) for row in await self._fetch(_Q["list_steps"], (execution_id,))]

    async def list_history(self, execution_id: str) -> list[HistoryRow]:
        return [HistoryRow(*row) for row in await self._fetch(_Q["list_history"], (execution_id,))]

    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRow]:
        rows = await self._fetch(
            _Q["list_executions"], (status, status, workflow_id, workflow_id, limit)
        )
        return [_execution(row) for row in rows]


def _execution(row: Sequence[Any]) -> ExecutionRow:
    # Queries select EXECUTION_COLUMNS, which lists ExecutionRow's fields in order.
    return ExecutionRow(*row)
