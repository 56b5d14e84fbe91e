"""PostgreSQL backend: many workers on many hosts share one database.

asyncpg with a connection pool. Every transition is one statement (see
``queries.sql``), so recording a step costs one network round trip. Claims
use ``FOR UPDATE SKIP LOCKED`` so concurrent workers never take the same
execution; fenced writes check the attempt and ``status = 'running'`` in the
same statement that writes.

Other processes learn of transitions through LISTEN/NOTIFY on a channel per
schema (see :mod:`.listener`); this process learns of its own at once,
because each method fires the hub right after its commit, as SQLite does.
A lost connection is retried with backoff (see :mod:`.resilience`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import orjson

from ...errors import StoreUnavailableError
from ..base import Store
from ..hub import Hub
from ..records import (
    EXECUTION_COLUMNS,
    Claimed,
    ExecutionRow,
    HistoryRow,
    NewExecution,
    StepRow,
    WorkerRow,
)
from ..sql import load_migrations, load_queries
from .config import PostgresConfig, parse_url
from .listener import Listener
from .resilience import Outages

log = logging.getLogger("polos.store.postgres")
T = TypeVar("T")

_Q = load_queries(__package__ or "polos.store.postgres", columns=EXECUTION_COLUMNS)
_EXECUTION_WIDTH = len(ExecutionRow.__dataclass_fields__)
_CONNECT_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 30.0
_CLOSE_TIMEOUT = 5.0

Conn = Any  # asyncpg.Connection (asyncpg ships no type information)
Record = Any  # asyncpg.Record


class PostgresStore(Store):
    def __init__(self, url: str, *, retry_seconds: float | None = None) -> None:
        self.config: PostgresConfig = parse_url(url)
        self.hub = Hub.for_database(self.config.hub_key)
        self.description = self.config.description
        self.channel = self.config.channel
        self._outages = Outages(
            self.description,
            self.config.retry_seconds if retry_seconds is None else retry_seconds,
        )
        self._pool: Any = None  # asyncpg.Pool
        self._listener: Listener | None = None

    # lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = await self._outages.run("connecting", self._open_pool)
        listener = Listener(self._connect_listener, self.channel, self.hub, self.description)
        await listener.start()
        self._listener = listener

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
            except Exception:
                # Connections still busy (or already broken): do not hang shutdown.
                pool.terminate()

    async def _open_pool(self, _retrying: bool) -> Any:
        cfg = self.config
        pool = await asyncpg.create_pool(
            cfg.dsn,
            min_size=1,
            max_size=cfg.pool_size,
            timeout=_CONNECT_TIMEOUT,
            command_timeout=_COMMAND_TIMEOUT,
            server_settings={
                "search_path": cfg.quoted_schema,
                "application_name": cfg.application_name,
            },
        )
        try:
            async with pool.acquire() as conn:
                await self._migrate(conn)
        except BaseException:
            pool.terminate()
            raise
        return pool

    async def _connect_listener(self) -> Conn:
        return await asyncpg.connect(
            self.config.dsn,
            timeout=_CONNECT_TIMEOUT,
            server_settings={"application_name": f"{self.config.application_name}-listen"},
        )

    async def _migrate(self, conn: Conn) -> None:
        """Apply pending migrations; the advisory lock makes concurrent openers take turns."""
        cfg = self.config
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", cfg.migration_lock_key)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {cfg.quoted_schema}")
            await conn.execute(f"SET LOCAL search_path TO {cfg.quoted_schema}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS polos_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = {row[0] for row in await conn.fetch("SELECT version FROM polos_migrations")}
            for version, name, statements in load_migrations(f"{__package__}"):
                if version in done:
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO polos_migrations VALUES ($1, $2, $3)", version, name, time.time()
                )
                log.info("%s: applied migration %s", self.description, name)

    # plumbing ----------------------------------------------------------------
    async def _with_conn(self, what: str, body: Callable[[Conn, bool], Awaitable[T]]) -> T:
        """Run ``body(conn, retrying)`` on a pooled connection, riding out outages."""

        async def attempt(retrying: bool) -> T:
            pool = self._pool
            if pool is None:
                raise StoreUnavailableError(
                    f"{self.description} is not open; use 'async with Polos()' or "
                    "await client.start()"
                )
            async with pool.acquire() as conn:
                return await body(conn, retrying)

        return await self._outages.run(what, attempt)

    async def _fetchval(self, what: str, query: str, *args: Any) -> Any:
        return await self._with_conn(what, lambda conn, _r: conn.fetchval(_Q[query], *args))

    async def _fetchrow(self, what: str, query: str, *args: Any) -> Record | None:
        return await self._with_conn(what, lambda conn, _r: conn.fetchrow(_Q[query], *args))

    async def _fetch(self, what: str, query: str, *args: Any) -> list[Record]:
        rows = await self._with_conn(what, lambda conn, _r: conn.fetch(_Q[query], *args))
        return list(rows)

    async def _execute(self, what: str, query: str, *args: Any) -> None:
        await self._with_conn(what, lambda conn, _r: conn.execute(_Q[query], *args))

    # submitting ----------------------------------------------------------------
    async def create_execution(self, new: NewExecution) -> None:
        async def body(conn: Conn, retrying: bool) -> None:
            row = await conn.fetchrow(
                _Q["insert_execution"],
                new.id,
                new.workflow_id,
                new.payload,
                new.created_at,
                new.parent_execution_id,
                new.root_execution_id,
                new.root_workflow_id,
                new.step_key,
                new.session_id,
                new.user_id,
                self.channel,
            )
            # On a retry the id may exist because the first try committed.
            if not row["created"] and not retrying:
                raise ValueError(f"an execution with id {new.id!r} already exists")

        await self._with_conn("creating an execution", body)
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
        if limit <= 0 or not workflow_ids:
            return []
        detail = orjson.dumps({"owner": worker_id}).decode()

        async def body(conn: Conn, retrying: bool) -> list[Claimed]:
            if retrying:
                # The first try may have committed before the connection dropped:
                # hand back what it claimed rather than leaving it to lease expiry.
                earlier = await conn.fetch(_Q["claimed_earlier"], worker_id, now)
                if earlier:
                    return await _with_steps(conn, [Claimed(_execution(r)) for r in earlier])
            rows = await conn.fetch(
                _Q["claim"], worker_id, list(workflow_ids), limit, now + lease_seconds, now, detail
            )
            return await _claimed(conn, rows)

        return await self._with_conn("claiming executions", body)

    async def heartbeat(
        self,
        worker_id: str,
        leases: Sequence[tuple[str, int]],
        now: float,
        lease_seconds: float,
    ) -> set[str]:
        ids = [execution_id for execution_id, _ in leases]
        attempts = [attempt for _, attempt in leases]
        rows = await self._fetch(
            "sending a heartbeat", "heartbeat", worker_id, now, now + lease_seconds, ids, attempts
        )
        return {row[0] for row in rows}

    async def release_execution(self, execution_id: str, attempt: int, now: float) -> bool:
        row = await self._fetchrow(
            "releasing an execution",
            "release_execution",
            execution_id,
            attempt,
            now,
            self.channel,
        )
        released = bool(row and row["released"])
        if released:
            self.hub.work_queued()
        return released

    async def requeue_expired_leases(self, now: float) -> int:
        row = await self._fetchrow(
            "requeueing expired leases", "requeue_expired", now, self.channel
        )
        count = int(row["requeued"]) if row else 0
        if count:
            self.hub.work_queued()
        return count

    async def requeue_worker(self, worker_id: str, now: float) -> int:
        detail = orjson.dumps({"owner": worker_id}).decode()
        row = await self._fetchrow(
            "requeueing a dead worker's executions",
            "requeue_worker",
            now,
            worker_id,
            detail,
            self.channel,
        )
        count = int(row["requeued"]) if row else 0
        if count:
            self.hub.work_queued()
        return count

    # steps, waits and outcomes ---------------------------------------------------
    async def record_step(self, execution_id: str, attempt: int, step: StepRow) -> bool:
        recorded = await self._fetchval(
            "recording a step",
            "record_step",
            execution_id,
            step.step_key,
            step.kind,
            step.name,
            step.output,
            step.error,
            attempt,
            step.created_at,
        )
        return bool(recorded)

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
        row = await self._fetchrow(
            "parking an execution",
            "begin_wait",
            execution_id,
            attempt,
            step_key,
            kind,
            wake_at,
            now,
            detail,
            self.channel,
        )
        parked = bool(row and row["parked"])
        if parked and wake_at is not None:
            self.hub.timer_set()
        return parked

    async def complete_execution(
        self, execution_id: str, attempt: int, result: str, now: float
    ) -> bool:
        return await self._finish("complete_execution", execution_id, attempt, result, now)

    async def fail_execution(self, execution_id: str, attempt: int, error: str, now: float) -> bool:
        return await self._finish("fail_execution", execution_id, attempt, error, now)

    async def _finish(
        self, query: str, execution_id: str, attempt: int, value: str, now: float
    ) -> bool:
        row = await self._fetchrow(
            "finishing an execution", query, execution_id, attempt, value, now, self.channel
        )
        done = bool(row and row["finished"])
        if done:
            self.hub.execution_finished(execution_id)
        return done

    async def add_history(
        self, execution_id: str, attempt: int, event: str, detail: str | None, now: float
    ) -> None:
        await self._execute(
            "adding to the history", "add_history", execution_id, now, event, attempt, detail
        )

    # timers --------------------------------------------------------------------
    async def fire_due_timers(self, now: float) -> int:
        row = await self._fetchrow("firing due timers", "fire_due_timers", now, self.channel)
        count = int(row["resumed"]) if row else 0
        if count:
            self.hub.work_queued()
        return count

    async def next_timer_at(self) -> float | None:
        due = await self._fetchval("reading the next timer", "next_timer_at")
        return None if due is None else float(due)

    # cancellation ------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str, now: float) -> ExecutionRow | None:
        async def body(conn: Conn, _retrying: bool) -> tuple[ExecutionRow | None, bool]:
            row = await conn.fetchrow(_Q["cancel_execution"], execution_id, now, self.channel)
            if row is not None:
                return _execution(row), True
            # Unknown, or already finished: a fresh statement reads the newest row.
            current = await conn.fetchrow(_Q["get_execution"], execution_id)
            return (_execution(current) if current else None), False

        row, changed = await self._with_conn("cancelling an execution", body)
        if changed:
            self.hub.execution_cancelled(execution_id)
        return row

    # workers ---------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None:
        await self._execute(
            "registering a worker",
            "upsert_worker",
            worker.worker_id,
            worker.hostname,
            worker.pid,
            worker.started_at,
            worker.heartbeat_at,
        )

    async def unregister_worker(self, worker_id: str) -> None:
        await self._execute("unregistering a worker", "delete_worker", worker_id)

    async def list_workers(self) -> list[WorkerRow]:
        rows = await self._fetch("listing workers", "list_workers")
        return [WorkerRow(*row) for row in rows]

    # reading ---------------------------------------------------------------------------
    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        row = await self._fetchrow("reading an execution", "get_execution", execution_id)
        return _execution(row) if row else None

    async def get_executions(self, execution_ids: Sequence[str]) -> list[ExecutionRow]:
        rows = await self._fetch("reading executions", "get_executions", list(execution_ids))
        return [_execution(row) for row in rows]

    async def list_steps(self, execution_id: str) -> list[StepRow]:
        rows = await self._fetch("listing steps", "list_steps", execution_id)
        return [StepRow(*row) for row in rows]

    async def list_history(self, execution_id: str) -> list[HistoryRow]:
        rows = await self._fetch("reading the history", "list_history", execution_id)
        return [HistoryRow(*row) for row in rows]

    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
    ) -> list[ExecutionRow]:
        rows = await self._fetch(
            "listing executions", "list_executions", status, workflow_id, limit
        )
        return [_execution(row) for row in rows]

    # for tests and operators ---------------------------------------------------------
    @property
    def listening(self) -> bool:
        """Whether the NOTIFY listener is connected right now."""
        return self._listener is not None and self._listener.listening


def _execution(row: Record) -> ExecutionRow:
    # Queries select EXECUTION_COLUMNS first, in ExecutionRow's field order.
    return ExecutionRow(*tuple(row)[:_EXECUTION_WIDTH])


def _step(fields: Sequence[Any], execution_id: str) -> StepRow:
    """A step from the claim's aggregated (step_key, ..., created_at) tuples."""
    step_key, kind, name, output, error, attempt, created_at = fields
    return StepRow(step_key, kind, name, output, error, attempt, created_at, execution_id)


async def _claimed(conn: Conn, rows: Sequence[Record]) -> list[Claimed]:
    """Claimed executions with their steps, reloading them where the snapshot was stale."""
    claimed: list[Claimed] = []
    stale: list[Claimed] = []
    for row in rows:
        item = Claimed(_execution(row))
        if row["seen_attempt"] + 1 != item.execution.attempt:
            stale.append(item)  # claimed and requeued by others since our snapshot
        else:
            execution_id = item.execution.id
            item.steps = [_step(fields, execution_id) for fields in row["steps"] or ()]
        claimed.append(item)
    if stale:
        await _with_steps(conn, stale)
    return claimed


async def _with_steps(conn: Conn, claimed: list[Claimed]) -> list[Claimed]:
    """Load the recorded steps of ``claimed`` (one query for all)."""
    by_id = {item.execution.id: item for item in claimed}
    for item in claimed:
        item.steps = []
    for step in await conn.fetch(_Q["steps_of_many"], list(by_id)):
        by_id[step["execution_id"]].steps.append(StepRow(*step))
    return claimed
