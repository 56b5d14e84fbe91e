"""DBOS Transact doing the same work as the Polos cases, for the ratios.

Two flavours, both idiomatic DBOS: ``async`` (an ``async def`` workflow whose
``async def`` steps run on the event loop, DBOS doing its database work in
threads) and ``sync`` (plain functions, DBOS's own executor threads). The
report compares Polos with the faster of the two, so the ratio never
flatters Polos.

SQLite: DBOS does not set a journal mode, so the fresh file is put in WAL
mode first (a persistent setting) and every connection DBOS opens gets
``synchronous=NORMAL``: the very settings Polos and the raw reference use.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig
from sqlalchemy import event

from _targets import Target
from _timing import inner_runs, per_item

_WARMUP_STEPS = 50
_seen_pragmas: list[tuple[str, int]] = []


@DBOS.step()
async def async_trivial(i: int) -> int:
    return i


@DBOS.workflow()
async def async_sequential(n: int) -> int:
    for i in range(n):
        await async_trivial(i)
    return n


@DBOS.workflow()
async def async_three_steps(n: int) -> int:
    total = 0
    for i in range(3):
        total += await async_trivial(i)
    return total + n


@DBOS.step()
def sync_trivial(i: int) -> int:
    return i


@DBOS.workflow()
def sync_sequential(n: int) -> int:
    for i in range(n):
        sync_trivial(i)
    return n


@DBOS.workflow()
def sync_three_steps(n: int) -> int:
    return sum(sync_trivial(i) for i in range(3)) + n


def _tune_sqlite_connection(dbapi_conn: Any, _record: Any) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        journal = dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = dbapi_conn.execute("PRAGMA synchronous").fetchone()[0]
        _seen_pragmas.append((journal, synchronous))


def _configure(target: Target) -> None:
    logging.getLogger("dbos").setLevel(logging.WARNING)
    config: DBOSConfig = {"name": "polos-bench", "log_level": "WARNING"}
    if target["kind"] == "sqlite":
        with sqlite3.connect(target["path"]) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        event.listen(sa.engine.Engine, "connect", _tune_sqlite_connection)
        config["system_database_url"] = f"sqlite:///{target['path']}"
    else:
        config["system_database_url"] = target["url"]
        config["dbos_system_schema"] = target["schema"]
    DBOS(config=config)


def _settings() -> dict[str, Any]:
    if not _seen_pragmas:
        return {}
    journals = sorted({journal for journal, _ in _seen_pragmas})
    syncs = sorted({sync for _, sync in _seen_pragmas})
    return {"journal_mode": ",".join(journals), "synchronous": ",".join(map(str, syncs))}


async def dbos_steps_async(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    n = int(params["steps"])
    _configure(target)
    DBOS.launch()
    try:
        await async_sequential(_WARMUP_STEPS)
        totals = []
        for _ in range(inner_runs(params)):
            started = time.perf_counter()
            result = await async_sequential(n)
            totals.append(time.perf_counter() - started)
            assert result == n, result
    finally:
        DBOS.destroy()
    return {**per_item(totals, n, "per_step_us"), **_settings()}


def dbos_steps_sync(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    n = int(params["steps"])
    _configure(target)
    DBOS.launch()
    try:
        sync_sequential(_WARMUP_STEPS)
        totals = []
        for _ in range(inner_runs(params)):
            started = time.perf_counter()
            result = sync_sequential(n)
            totals.append(time.perf_counter() - started)
            assert result == n, result
    finally:
        DBOS.destroy()
    return {**per_item(totals, n, "per_step_us"), **_settings()}


async def dbos_throughput_async(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    m = int(params["workflows"])
    _configure(target)
    DBOS.launch()
    try:
        await async_three_steps(0)
        started = time.perf_counter()
        handles = [await DBOS.start_workflow_async(async_three_steps, i) for i in range(m)]
        results = [await handle.get_result() for handle in handles]
        total = time.perf_counter() - started
    finally:
        DBOS.destroy()
    assert results == [i + 3 for i in range(m)], results[:5]
    return {"workflows_per_s": m / total, "total_s": total, **_settings()}


def dbos_throughput_sync(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    m = int(params["workflows"])
    _configure(target)
    DBOS.launch()
    try:
        sync_three_steps(0)
        started = time.perf_counter()
        handles = [DBOS.start_workflow(sync_three_steps, i) for i in range(m)]
        results = [handle.get_result() for handle in handles]
        total = time.perf_counter() - started
    finally:
        DBOS.destroy()
    assert results == [i + 3 for i in range(m)], results[:5]
    return {"workflows_per_s": m / total, "total_s": total, **_settings()}


def dbos_version() -> str:
    from importlib.metadata import version

    return version("dbos")


async def dbos_throughput_concurrent(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """M 3-step workflows started by ``callers`` concurrent callers (as many
    clients at once would), all run by this one process; M / wall time."""
    m, callers = int(params["workflows"]), int(params.get("callers", 50))
    _configure(target)
    DBOS.launch()
    try:
        await async_three_steps(0)
        gate = asyncio.Semaphore(callers)

        async def start(i: int) -> Any:
            async with gate:
                return await DBOS.start_workflow_async(async_three_steps, i)

        started = time.perf_counter()
        handles = await asyncio.gather(*(start(i) for i in range(m)))
        results = [await handle.get_result() for handle in handles]
        total = time.perf_counter() - started
    finally:
        DBOS.destroy()
    assert results == [i + 3 for i in range(m)], results[:5]
    return {"workflows_per_s": m / total, "total_s": total, "callers": callers, **_settings()}


def dbos_throughput_sync_concurrent(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """The sync flavour of the same: ``callers`` threads each calling
    ``DBOS.start_workflow`` (its own transaction), then every result read."""
    m, callers = int(params["workflows"]), int(params.get("callers", 50))
    _configure(target)
    DBOS.launch()
    try:
        sync_three_steps(0)
        with ThreadPoolExecutor(max_workers=callers) as pool:
            started = time.perf_counter()
            handles = list(pool.map(lambda i: DBOS.start_workflow(sync_three_steps, i), range(m)))
            results = [handle.get_result() for handle in handles]
            total = time.perf_counter() - started
    finally:
        DBOS.destroy()
    assert results == [i + 3 for i in range(m)], results[:5]
    return {"workflows_per_s": m / total, "total_s": total, "callers": callers, **_settings()}
