"""Clear, correctly typed errors for bad configuration and a failing database.

A cron that never fires, a bad port, an empty URL, a clashing table, a full
disk and an outage each get an error (and log lines) that say what is wrong,
and a full disk or an outage never fails a run: the work resumes once the
cause is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from conftest import PG_DSN
from polos import (
    ConfigurationError,
    Polos,
    PolosClient,
    PolosError,
    SchemaConflictError,
    StoreError,
    StoreUnavailableError,
    WorkflowContext,
    WorkflowDefinitionError,
    schedules,
    workflow,
)
from polos.runtime.client import store_of
from polos.store import store_from_url
from polos.store.postgres.config import parse_url
from polos.store.postgres.resilience import Outages
from toolkit.database import execute_sql
from toolkit.proxy import FlakyProxy


# configuration -------------------------------------------------------------------------
@workflow(id="store_errors_target")
async def store_errors_target(ctx: WorkflowContext) -> str:
    return "ran"


def test_a_cron_that_never_fires_is_refused_at_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match="never fires"):

        @workflow(id="store_errors_feb31", schedule="0 0 31 2 *")
        async def feb31(ctx: WorkflowContext) -> None: ...


async def test_a_cron_that_never_fires_is_refused_at_schedule_creation(polos: Polos) -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"'0 0 31 2 \*' never fires"):
        await schedules.create(polos, store_errors_target, "0 0 31 2 *")
    assert await schedules.list(polos, store_errors_target) == []
    # Rare is not never: 29 February fires every four years.
    await schedules.create(polos, store_errors_target, "0 0 29 2 *")


@pytest.mark.parametrize(
    "url, port",
    [
        ("postgresql://h:abc/db", "abc"),
        ("postgresql://u:secret@h:99999/db", "99999"),
        ("postgresql://h1:5432,h2:x/db", "x"),
        ("postgresql://[::1]:port/db", "port"),
    ],
)
def test_a_bad_port_names_the_url(url: str, port: str) -> None:
    with pytest.raises(ConfigurationError, match=f"has port '{port}', which is not a port") as err:
        store_from_url(url)
    assert isinstance(err.value, ValueError) and "secret" not in str(err.value)
    for good in ("postgresql://h:5432/db", "postgresql://h1:1,h2:2/db", "postgresql://[::1]/db"):
        parse_url(good)


def test_an_empty_database_url_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for empty in ("", "   "):
        with pytest.raises(ConfigurationError, match="names no database"):
            PolosClient(database_url=empty)
        with pytest.raises(ConfigurationError, match="names no database"):
            store_from_url(empty)
    monkeypatch.setenv("POLOS_DATABASE_URL", "")
    with pytest.raises(ConfigurationError, match="POLOS_DATABASE_URL"):
        PolosClient()
    monkeypatch.delenv("POLOS_DATABASE_URL")
    assert PolosClient().database_url.endswith(".polos/polos.db")  # unset: the default


# the database refusing work ------------------------------------------------------------
async def test_a_clashing_table_is_a_schema_conflict(database_url: str) -> None:
    await execute_sql(database_url, "CREATE TABLE executions (id INTEGER, note TEXT)")
    store = store_from_url(database_url)
    with pytest.raises(SchemaConflictError, match="executions") as err:
        await store.open()
    await store.close()
    assert isinstance(err.value, StoreError) and isinstance(err.value, PolosError)
    assert not isinstance(err.value, StoreUnavailableError)  # not an outage that passes


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def loud(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.WARNING]


@pytest.fixture
def polos_logs() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("polos")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _one_line_each_way(logs: Records) -> None:
    loud = logs.loud()
    assert [r for r in loud if r.exc_info] == [], "no tracebacks for a database problem"
    assert len(loud) == 2, [r.getMessage() for r in loud]
    assert "stopped working" in loud[0].getMessage()
    assert "works again, after" in loud[1].getMessage()


def _big(i: int) -> str:
    return f"{i}" * 20_000


@workflow(id="store_errors_writer")
async def store_errors_writer(ctx: WorkflowContext, n: int) -> int:
    for i in range(n):
        await ctx.step.run(f"w{i}", _big, i)
    return n


async def test_sqlite_disk_full_fails_no_run_and_recovers_when_space_returns(
    tmp_path: Path, polos_logs: Records
) -> None:
    async with Polos(
        database_url=f"sqlite:///{tmp_path}/polos.db",
        workflows=[store_errors_writer],
        lease_seconds=1.0,
        poll_interval=0.05,
        hold_seconds=0,
    ) as polos:
        store = await store_of(polos)
        conn = store._conn  # type: ignore[attr-defined]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 20}")  # the disk is nearly full
        handle = await polos.invoke(store_errors_writer, 30)
        while not any("stopped working" in r.getMessage() for r in polos_logs.loud()):
            await asyncio.sleep(0.02)
        await asyncio.sleep(2.5)  # the disk stays full a while: retries, no new lines
        assert (await handle.get(polos)).status == "running"  # waiting, not failed
        conn.execute("PRAGMA max_page_count = 1073741823")  # space is freed
        assert await handle.result(polos, timeout=30) == 30
        while len(polos_logs.loud()) < 2:
            await asyncio.sleep(0.05)
    _one_line_each_way(polos_logs)
    assert "database or disk is full" in polos_logs.loud()[0].getMessage()


async def test_a_postgres_outage_logs_one_line_when_it_starts_and_one_when_it_ends(
    pg_url: str, polos_logs: Records
) -> None:
    proxy = FlakyProxy("127.0.0.1", int(PG_DSN.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    through = pg_url.replace(PG_DSN, f"postgresql://postgres@127.0.0.1:{proxy.port}/test")
    try:
        # retry_seconds=1: operations give up during the outage, so the error
        # reaches every loop and run of the worker; none of them may log it again.
        async with Polos(
            database_url=f"{through}&retry_seconds=1",
            workflows=[store_errors_writer],
            lease_seconds=1.0,
            poll_interval=0.05,
            hold_seconds=0,
        ) as polos:
            handles = [await polos.invoke(store_errors_writer, 200) for _ in range(5)]
            await asyncio.sleep(0.3)
            assert polos_logs.loud() == []
            await proxy.outage(3.0)
            began = time.monotonic()
            assert [await h.result(polos, timeout=60) for h in handles] == [200] * 5
            assert time.monotonic() - began < 50
            while len(polos_logs.loud()) < 2:
                await asyncio.sleep(0.05)
    finally:
        await proxy.close()
    _one_line_each_way(polos_logs)


async def test_a_postgres_disk_full_is_a_store_error_not_an_outage() -> None:
    outages = Outages("PostgreSQL database test", retry_seconds=0.2)

    async def full(_retrying: bool) -> None:
        raise asyncpg.exceptions.DiskFullError("could not extend file: No space left on device")

    with pytest.raises(StoreError, match="out of disk space") as err:
        await outages.run("recording a step", full)
    assert not isinstance(err.value, StoreUnavailableError)
