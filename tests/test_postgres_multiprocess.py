"""Many worker processes on one PostgreSQL schema, killed and cut off mid-run.

(a) Four workers run 1,000 workflows of four steps while two of them are
    SIGKILLed at random moments.
(b) Workers run while every connection they hold is cut, repeatedly, and
    the server "goes away" for a while (a TCP proxy in front of PostgreSQL
    stops answering), the way a restart looks from a client.

Both check, from a log every step writes at its start and its end: every
workflow completes; no step started again after its record was committed;
and no execution ever ran on two workers at once (its step intervals never
overlap; a step interrupted by a kill ends when the process died).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from conftest import PG_DSN
from polos import PolosClient
from polos.store import StepRow
from toolkit.processes import WorkerProcess, start_workers, stop_workers
from toolkit.proxy import FlakyProxy
from toolkit.steplog import StepLog
from toolkit.waiting import until

STEPS = 4
#: How these tests' workers run: the multi-process workflows, polling at 0.1 s.
SERVE = {"modules": "pg_workflows", "POLOS_TEST_POLL": "0.1", "POLOS_TEST_GRACE": "2"}


@pytest.fixture
async def admin() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(PG_DSN)
    try:
        yield conn
    finally:
        await conn.close()


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1].split("&", 1)[0]


async def invoke_all(client: PolosClient, count: int, max_seconds: float) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 100):
        handles = await asyncio.gather(
            *(
                client.invoke("pg_chain", {"steps": STEPS, "max_seconds": max_seconds})
                for _ in range(start, min(count, start + 100))
            )
        )
        ids.extend(h.id for h in handles)
    return ids


async def wait_finished(
    admin: asyncpg.Connection, schema: str, count: int, timeout: float, poll: float = 0.2
) -> None:
    """Until at least ``count`` executions of the schema have finished."""

    async def finished() -> bool:
        done = await admin.fetchval(
            f"SELECT count(*) FROM {schema}.executions "
            "WHERE status IN ('completed', 'failed', 'cancelled')"
        )
        return bool(done >= count)

    await until(finished, timeout, f"{count} executions to finish", poll)


async def check_outcomes(
    admin: asyncpg.Connection, schema: str, ids: list[str], log_path: Path, killed: dict[int, float]
) -> None:
    rows = await admin.fetch(f"SELECT id, status, result FROM {schema}.executions")
    assert {r["id"] for r in rows} == set(ids)
    bad = [(r["id"], r["status"]) for r in rows if r["status"] != "completed"]
    assert not bad, f"executions that did not complete: {bad[:5]}"
    expected = '["s0","s1","s2","s3"]'
    assert all(r["result"].replace(" ", "") == expected for r in rows)

    steps = await admin.fetch(
        f"SELECT step_key, kind, name, output, error, attempt, created_at, execution_id "
        f"FROM {schema}.steps"
    )
    recorded = {(s["execution_id"], s["step_key"]): StepRow(*s) for s in steps}
    assert len(recorded) == len(ids) * STEPS
    log = StepLog.read(log_path)
    assert_no_step_ran_after_its_record(log, recorded)
    assert_no_execution_ran_twice_at_once(log, killed)


def assert_no_step_ran_after_its_record(
    log: StepLog, recorded: dict[tuple[str, str], StepRow]
) -> None:
    for key, step in recorded.items():
        runs = log.runs[key]
        assert runs, f"step {key} was recorded but never ran"
        # step.created_at is taken just before the record is written, so a
        # start after it can only be a run after the commit.
        again = [r for r in runs if r.start > step.created_at]
        assert not again, f"step {key} ran again after it was recorded: {again}"
        finished = [r for r in runs if r.end is not None]
        assert finished, f"step {key} was recorded but no run of it finished"


def assert_no_execution_ran_twice_at_once(log: StepLog, killed: dict[int, float]) -> None:
    per_execution: dict[str, list[tuple[float, float, int, str]]] = {}
    for (eid, key), runs in log.runs.items():
        for r in runs:
            end = r.end if r.end is not None else killed.get(r.pid)
            assert end is not None, f"step {eid}/{key} on live pid {r.pid} never ended"
            per_execution.setdefault(eid, []).append((r.start, end, r.pid, key))
    for eid, intervals in per_execution.items():
        intervals.sort()
        for before, after in itertools.pairwise(intervals):
            assert after[0] >= before[1], (
                f"execution {eid}: step {after[3]} on pid {after[2]} started at {after[0]:.6f} "
                f"while step {before[3]} on pid {before[2]} ran until {before[1]:.6f}"
            )


async def busy_worker(
    admin: asyncpg.Connection, schema: str, alive: list[WorkerProcess], rng: random.Random
) -> WorkerProcess:
    """A live worker that runs something right now (worker ids embed the pid), so the kill
    always interrupts work; any live worker if none is caught mid-run."""
    owners = await admin.fetch(
        f"SELECT DISTINCT owner FROM {schema}.executions WHERE status = 'running'"
    )
    busy = [w for w in alive if any(f"-{w.pid}-" in (r["owner"] or "") for r in owners)]
    return rng.choice(busy or alive)


@pytest.mark.slow
async def test_four_workers_two_killed_run_1000_workflows(
    pg_url: str, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    schema = schema_of(pg_url)
    rng = random.Random(11)
    workers = await asyncio.to_thread(
        start_workers, 4, pg_url, log_path, **SERVE, POLOS_TEST_LEASE="6", POLOS_TEST_SLOTS="20"
    )
    client = PolosClient(database_url=pg_url)
    killed: dict[int, float] = {}
    try:
        ids = await invoke_all(client, 1000, max_seconds=0.05)
        # Kill at random moments while the work is in full flow.
        moments = sorted([rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.6)])
        for moment in moments:
            await wait_finished(admin, schema, int(len(ids) * moment), timeout=30, poll=0.01)
            await asyncio.sleep(rng.uniform(0, 0.1))
            victim = await busy_worker(
                admin, schema, [w for w in workers if w.pid not in killed], rng
            )
            victim.kill()
            assert victim.killed_at is not None
            killed[victim.pid] = victim.killed_at
        await wait_finished(admin, schema, len(ids), timeout=45)
        await check_outcomes(admin, schema, ids, log_path, killed)
        history = await admin.fetch(
            f"SELECT event, count(*) AS n FROM {schema}.history GROUP BY event"
        )
        events = {r["event"]: r["n"] for r in history}
        assert events.get("owner_died", 0) + events.get("lease_expired", 0) > 0, events
    finally:
        await client.close()
        await stop_workers(workers)


async def disrupt(admin: asyncpg.Connection, app: str, proxy: FlakyProxy) -> None:
    """Cut every server session of the test three times, reset the proxy, then an outage."""
    for _ in range(3):
        await asyncio.sleep(0.7)
        terminated = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE $1",
            f"{app}%",
        )
        assert terminated > 0
    await asyncio.sleep(0.5)
    await proxy.cut()
    await asyncio.sleep(0.5)
    await proxy.outage(3.0)  # connects are refused for 3 s, like a restart
    await asyncio.sleep(0.5)


@pytest.mark.slow
async def test_workers_ride_out_cut_connections_and_an_outage(
    pg_url: str, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    schema = schema_of(pg_url)
    app = f"polos_{schema}"
    # Workers reach PostgreSQL through a proxy this test can take down; the
    # application name lets the test find (only) this test's server sessions.
    proxy = FlakyProxy("127.0.0.1", 5432)
    await proxy.start()
    proxied = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    url = f"{proxied}&application_name={app}"
    # Leases outlast the outage: this test is about riding it out, not take-overs.
    workers = await asyncio.to_thread(
        start_workers, 3, url, log_path, **SERVE, POLOS_TEST_LEASE="20"
    )
    client = PolosClient(database_url=url)
    ids: list[str] = []
    try:
        disruptions = asyncio.create_task(disrupt(admin, app, proxy))
        # Keep work in flight through every disruption (the client rides them out too).
        while not disruptions.done():
            ids += await invoke_all(client, 20, max_seconds=0.05)
            await asyncio.sleep(0.25)
        await disruptions
        await wait_finished(admin, schema, len(ids), timeout=40)
        await check_outcomes(admin, schema, ids, log_path, killed={})
        outputs = await stop_workers(workers)
        assert any("retrying" in out or "reconnecting" in out for out in outputs), outputs[0]
    finally:
        await client.close()
        await stop_workers(workers)  # the proxy runs on this loop: never block it
        await proxy.close()
