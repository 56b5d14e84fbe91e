"""Shared fixtures: every store-facing test runs on SQLite and on PostgreSQL.

PostgreSQL tests each get a schema of their own in the ``test`` database
(``?schema=...`` in the URL), dropped afterwards, so tests never see each
other's rows. With ``CI=true`` an unreachable PostgreSQL fails the suite
instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# fake model servers for the tests of Polos's own examples (Python and TypeScript)
from example_agents_kit import anthropic_llm, openai_llm  # noqa: F401

# polos-sdk in its own virtualenv, `polos server` and SDK workers as processes
from sdk_kit import polos_server, sdk_python, sdk_workers  # noqa: F401

# @polos/sdk installed once per session for the TypeScript tests
from ts_kit import ts_node_modules  # noqa: F401

PG_DSN = os.environ.get("POLOS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_pg_state: dict[str, str | None] = {}


def _pg_problem() -> str | None:
    """None when PostgreSQL is usable for tests, else why not (checked once)."""
    if "problem" not in _pg_state:
        try:
            import asyncpg
        except ImportError:
            _pg_state["problem"] = "asyncpg is not installed"
            return _pg_state["problem"]

        async def probe() -> None:
            conn = await asyncpg.connect(PG_DSN, timeout=5)
            await conn.close()

        try:
            asyncio.run(probe())
            _pg_state["problem"] = None
        except Exception as exc:
            _pg_state["problem"] = f"PostgreSQL at {PG_DSN} is unreachable: {exc!r}"
    return _pg_state["problem"]


def require_postgres() -> None:
    problem = _pg_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: PostgreSQL is required)")
        pytest.skip(problem)
    try:
        from polos.store.postgres import PostgresStore  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("the PostgreSQL backend (polos.store.postgres) is missing")
        pytest.skip("the PostgreSQL backend is not built yet")


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_database_url(backend: str, tmp_path: os.PathLike[str]) -> tuple[str, str | None]:
    """A fresh, empty database URL for ``backend``; returns (url, pg schema or None)."""
    if backend == "sqlite":
        return f"sqlite:///{os.fspath(tmp_path)}/polos.db", None
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE SCHEMA "{schema}"'))
    return f"{PG_DSN}?schema={schema}", schema


def drop_schema(schema: str | None) -> None:
    if schema is not None:
        asyncio.run(_pg_exec(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A fresh database on each backend."""
    url, schema = new_database_url(backend, tmp_path)
    try:
        yield url
    finally:
        drop_schema(schema)


@pytest.fixture
def pg_url(tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A fresh PostgreSQL schema, for tests that are about PostgreSQL only."""
    url, schema = new_database_url("postgres", tmp_path)
    try:
        yield url
    finally:
        drop_schema(schema)


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{os.fspath(tmp_path)}/polos.db"


@pytest.fixture
async def polos(database_url: str) -> AsyncIterator[object]:
    """A started ``Polos`` (client + worker) on a fresh database, fast timings."""
    from polos import Polos, get_all_workflows

    # Every workflow defined so far, except those on a cron schedule: their
    # ticks would start runs in every test's database.
    served = [wf for wf in get_all_workflows().values() if wf.schedule is None]
    # hold_seconds=0: every wait unwinds and the run replays from the top after
    # it, which is the path these tests exist to check. Holding parked runs in
    # memory has tests of its own (test_hold.py).
    p = Polos(
        database_url=database_url,
        workflows=served,
        hold_seconds=0,
        lease_seconds=5.0,
        poll_interval=0.05,
        shutdown_grace_seconds=2.0,
    )
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


def pytest_collection_finish(session: pytest.Session) -> None:
    # An empty selection must not pass silently (pytest exits 5, and so do we).
    if not session.items and not session.config.option.collectonly:
        raise pytest.UsageError("no tests were selected")


@pytest.fixture
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Polos's own python-examples folder (see tests/polos_examples.py); skips without one."""
    from polos_examples import require_examples

    return require_examples(tmp_path_factory.getbasetemp() / "polos-examples")
