"""The connection side of the backend: pool, migrations, retries.

:class:`Database` hands a pooled connection to one operation at a time and
rides out outages (see :mod:`.resilience`); the store above it only says
what each operation does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from ...errors import SchemaConflictError, StoreUnavailableError
from .config import PostgresConfig
from .resilience import Outages, is_transient

log = logging.getLogger("polos.store.postgres")
T = TypeVar("T")

Conn = Any  # asyncpg.Connection (asyncpg ships no type information)
Record = Any  # asyncpg.Record

_CONNECT_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 30.0
_CLOSE_TIMEOUT = 5.0
#: A kept connection (see ``Database._run_pinned``) idle this long, or used
#: this many times, goes back to the pool, so that the pool's own limits (it
#: closes connections idle for 5 minutes, and replaces one after 50,000
#: queries) apply to kept connections too, just later.
_KEPT_IDLE_S = 60.0
_KEPT_MAX_USES = 10_000
_MIGRATION = re.compile(r"^(\d+)_\w+\.sql$")
# A migration that meets objects it was about to create: someone else's tables.
_CLASHES = (
    asyncpg.exceptions.DuplicateTableError,
    asyncpg.exceptions.DuplicateObjectError,
    asyncpg.exceptions.DuplicateFunctionError,
)


def migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, script)`` in order.

    Each file runs as one script (PostgreSQL's simple query protocol takes
    several statements), so function bodies may hold ``;``.
    """
    folder = resources.files(__package__ or "polos.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


@dataclass(slots=True)
class _Kept:
    """A connection kept out of its pool while idle, and how it has been used.

    ``conn`` is the pool's proxy (released through it); ``direct`` the
    connection behind it, which operations use: the proxy costs a Python call
    per method (three per operation), for a check that a kept connection,
    released only through :meth:`Database._unpin`, never needs."""

    pool: Any  # asyncpg.Pool
    conn: Conn
    direct: Conn
    uses: int
    last_used: float


class Database:
    def __init__(self, config: PostgresConfig, retry_seconds: float) -> None:
        self.config = config
        self.description = config.description
        self.outages = Outages(config.description, retry_seconds)
        self._pool: Any = None  # asyncpg.Pool
        # Pooled connections kept out of the pool (see :meth:`_run_pinned`):
        # the idle ones (last used on top), and how many there are, idle or in use.
        self._idle: list[_Kept] = []
        self._pinned = 0
        self._next_trim = 0.0

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await self.outages.run("connecting", self._open_pool)

    async def warm(self, connections: int) -> None:
        """Open pooled connections now, up to ``connections`` kept ones in all.

        A worker about to serve calls this: its first run would otherwise wait
        for each connection its concurrent operations need (the run, the claim
        and timer loops) to be opened, a TCP connect and a login apiece, in the
        middle of the run. Opened concurrently, kept as :meth:`_run_pinned`
        keeps them (idle ones go back to the pool after ``_KEPT_IDLE_S``).
        Best effort: a connection that fails to open is left for later."""
        pool = self._pool
        want = min(connections, self.config.pool_size - 1) - self._pinned
        if pool is None or want <= 0:
            return
        self._pinned += want

        async def open_one() -> None:
            try:
                conn = await pool.acquire()
            except Exception:
                self._pinned -= 1  # best effort: opened later, when needed
                return
            except BaseException:
                self._pinned -= 1  # a cancelled start keeps nothing
                raise
            if self._pool is not pool:  # closed meanwhile
                await self._unpin(pool, conn)
            else:
                self._idle.append(_Kept(pool, conn, _direct(conn), 0, time.monotonic()))

        await asyncio.gather(*(open_one() for _ in range(want)))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        # (One in use goes back when its operation ends: pool.close waits for it.)
        while self._idle:
            kept = self._idle.pop()
            await self._unpin(kept.pool, kept.conn)
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
            except Exception:
                # Connections still busy (or already broken): do not hang shutdown.
                pool.terminate()

    async def run(self, what: str, body: Callable[[Conn, bool], Awaitable[T]]) -> T:
        """Run ``body(conn, retrying)`` on a pooled connection, riding out outages.

        ``retrying`` is true when an earlier try failed: it may have committed.
        """
        # The common case first, without the retry loop's closure and frames
        # (a step's record pays for every Python call here): an idle kept
        # connection, no trim due. A failure goes on as the loop's first.
        pool = self._pool
        if self._idle and pool is not None:
            now = time.monotonic()
            kept = self._idle[-1]
            if now < self._next_trim and kept.pool is pool and kept.uses < _KEPT_MAX_USES:
                self._idle.pop()
                conn = kept.direct
                if _usable(conn):
                    try:
                        result = await body(conn, False)
                    except Exception as exc:
                        await self._unpin(pool, kept.conn)
                        if not is_transient(exc):
                            raise
                        return await self.outages.run(what, self._attempt(body), after=exc)
                    except BaseException:
                        await self._unpin(pool, kept.conn)
                        raise
                    if not self._keep(pool, kept, now):
                        await self._unpin(pool, kept.conn)
                    self.outages.log.succeeded()
                    return result
                await self._unpin(pool, kept.conn)
        return await self.outages.run(what, self._attempt(body))

    def _attempt(
        self, body: Callable[[Conn, bool], Awaitable[T]]
    ) -> Callable[[bool], Awaitable[T]]:
        """One try of ``body`` for :meth:`run`'s retry loop."""

        async def attempt(retrying: bool) -> T:
            pool = self._pool
            if pool is None:
                raise StoreUnavailableError(
                    f"{self.description} is not open; use 'async with Polos()' or "
                    "await client.start()"
                )
            if self._idle or self._pinned < self.config.pool_size - 1:
                # (One connection always stays in the pool: with a pool of one,
                # a pinned connection would starve it.)
                return await self._run_pinned(pool, body, retrying)
            conn = await pool.acquire()
            try:
                return await body(conn, retrying)
            finally:
                # A release that fails (the connection broke after our statement
                # completed) must not turn a committed write into an error: the
                # pool has already dropped the broken connection.
                with contextlib.suppress(Exception):
                    await pool.release(conn)

        return attempt

    async def _run_pinned(
        self, pool: Any, body: Callable[[Conn, bool], Awaitable[T]], retrying: bool
    ) -> T:
        """``body`` on an idle pinned connection, pinning one more if there is none.

        asyncpg's acquire and release cost about as much Python time as the
        statement itself (release even starts a task); a pinned connection
        skips both. Up to ``pool_size - 1`` connections are pinned, as many
        as operations ever ran at once; past that, operations use the pool as
        before. A pinned connection that fails in any way, or that the server
        closed meanwhile, goes back to the pool (which rolls back, or drops a
        broken connection) and is replaced at a later operation, so a retry
        never reuses a broken one.
        """
        now = time.monotonic()
        if now >= self._next_trim:
            await self._trim_idle(now)
        found = None
        while self._idle:
            kept = self._idle.pop()
            if kept.pool is pool and _usable(kept.direct) and kept.uses < _KEPT_MAX_USES:
                found = kept
                break
            await self._unpin(kept.pool, kept.conn)
        if found is None:
            self._pinned += 1
            try:
                conn = await pool.acquire()
            except BaseException:
                self._pinned -= 1
                raise
            found = _Kept(pool, conn, _direct(conn), 0, now)
        try:
            result = await body(found.direct, retrying)
        except BaseException:
            await self._unpin(pool, found.conn)
            raise
        if not self._keep(pool, found, time.monotonic()):
            await self._unpin(pool, found.conn)
        return result

    def _keep(self, pool: Any, kept: _Kept, now: float) -> bool:
        """Put ``kept`` back with the idle ones after an operation, unless it
        must go back to the pool (which the caller then does)."""
        conn = kept.direct
        if self._pool is not pool or not _usable(conn) or conn.is_in_transaction():
            # Closed meanwhile (even while pinning), or a transaction left open.
            return False
        kept.uses += 1
        kept.last_used = now
        self._idle.append(kept)
        return True

    async def _trim_idle(self, now: float) -> None:
        """Give back kept connections idle for ``_KEPT_IDLE_S`` (checked once a second):
        a burst of concurrent operations must not keep its connections forever."""
        self._next_trim = now + 1.0
        while self._idle and self._idle[0].last_used < now - _KEPT_IDLE_S:
            kept = self._idle.pop(0)  # the least recently used come first
            await self._unpin(kept.pool, kept.conn)

    async def _unpin(self, pool: Any, conn: Conn) -> None:
        self._pinned -= 1
        with contextlib.suppress(Exception):
            await pool.release(conn)

    async def connect_listener(self) -> Conn:
        """A connection of its own for LISTEN (a pooled one would be reset)."""
        return await asyncpg.connect(
            self.config.dsn,
            timeout=_CONNECT_TIMEOUT,
            server_settings={"application_name": f"{self.config.application_name}-listen"},
        )

    async def _open_pool(self, _retrying: bool) -> Any:
        cfg = self.config
        pool = await asyncpg.create_pool(
            cfg.dsn,
            min_size=0,  # no background reconnects by asyncpg: ours log better
            max_size=cfg.pool_size,
            timeout=_CONNECT_TIMEOUT,
            command_timeout=_COMMAND_TIMEOUT,
            server_settings={
                "search_path": cfg.quoted_schema,
                "application_name": cfg.application_name,
            },
            # Our sessions keep no state between operations, so skip asyncpg's
            # reset query on release: it would double the round trips.
            reset=_keep_session,
        )
        try:
            async with pool.acquire() as conn:
                await self._migrate(conn)
        except BaseException:
            pool.terminate()
            raise
        return pool

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
            for version, name, script in migrations():
                if version in done:
                    continue
                try:
                    await conn.execute(script)
                except _CLASHES as exc:
                    raise SchemaConflictError(
                        f"{self.description} already has a table, index or function by a "
                        f"name Polos uses ({type(exc).__name__}: {exc}), which Polos did not "
                        "create; give Polos a schema of its own (?schema=polos in the URL)"
                    ) from None
                await conn.execute(
                    "INSERT INTO polos_migrations VALUES ($1, $2, $3)", version, name, time.time()
                )
                log.info("%s: applied migration %s", self.description, name)


def _direct(conn: Conn) -> Conn:
    """The connection behind asyncpg's pool proxy (anything else as it is)."""
    if isinstance(conn, asyncpg.pool.PoolConnectionProxy):
        return getattr(conn, "_con", None) or conn
    return conn


def _usable(conn: Conn) -> bool:
    """Whether a pinned connection still works: when the server closes it, the
    pool takes it back at once and the handle we kept refuses every call."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


async def _keep_session(_conn: Conn) -> None:
    """Pool reset hook: nothing to reset (asyncpg still rolls back an open transaction)."""
