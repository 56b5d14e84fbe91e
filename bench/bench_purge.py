"""Purging 1,000,000 finished runs on PostgreSQL, and what a worker feels meanwhile.

    .venv/bin/python bench/bench_purge.py [--database-url postgresql://...] [--runs 1000000]

In a fresh schema (migrated by the store itself), SQL ``generate_series``
writes ``--runs`` finished root runs 40 days old (completed, failed and
cancelled in turn; every tenth with a finished child), three steps and three
history entries per run and one event on each tree's topic; beside them, runs
that must stay: 10,000 old runs still waiting and 10,000 finished an hour ago.
Then ``polos.engine.retention.purge`` (what ``polos purge --older-than 30d``
and the workers' sweep run) deletes everything finished over 30 days ago, in
batches of ``--batch`` trees, while a probe plays a worker: it queues a run,
claims it and completes it, every 20 ms, timing each claim. The probe runs for
a few seconds before the purge too, on the full database, as the reference.
Printed: rows made, the dry run's count, the purge's time and rate, the claim
latencies before and during (median, p95, p99, max), and that the runs that
had to stay are all there.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg  # type: ignore[import-untyped]

from polos.engine.retention import purge
from polos.store import NewExecution, Store, store_from_url

DSN = "postgresql://postgres@127.0.0.1:5432/test"
DAY = 86400.0
KEPT = 10_000


async def generate(conn: asyncpg.Connection, runs: int, now: float) -> dict[str, int]:
    """Write the runs with SQL alone (no Python per row): minutes, not hours."""
    old = now - 40 * DAY
    await conn.execute("SET synchronous_commit = off")
    statements = {
        "roots": f"""
            INSERT INTO executions (id, workflow_id, status, payload, result, attempt,
                created_at, started_at, updated_at, completed_at)
            SELECT 'r' || i, 'bench', (ARRAY['completed', 'failed', 'cancelled'])[1 + i % 3],
                '{{}}', '"ok"', 1, {old} - i * 0.001, {old} - i * 0.001 + 0.1,
                {old} - i * 0.001 + 1, {old} - i * 0.001 + 1
            FROM generate_series(1, {runs}) i""",
        "children": f"""
            INSERT INTO executions (id, workflow_id, status, payload, result, attempt,
                created_at, started_at, updated_at, completed_at, parent_execution_id,
                root_execution_id, root_workflow_id, step_key, child_index)
            SELECT 'c' || i, 'bench_child', 'completed', '{{}}', '1', 1,
                {old} - i * 0.001 + 0.2, {old} - i * 0.001 + 0.3, {old} - i * 0.001 + 0.5,
                {old} - i * 0.001 + 0.5, 'r' || i, 'r' || i, 'bench', 'child', 0
            FROM generate_series(10, {runs}, 10) i""",
        "waiting (kept)": f"""
            INSERT INTO executions (id, workflow_id, status, payload, attempt, created_at,
                updated_at, wait_step_key, wait_kind, wait_topic, wait_cursor)
            SELECT 'w' || i, 'bench', 'waiting', '{{}}', 1, {old}, {old}, 'go', 'event',
                'bench.go/' || i, 0
            FROM generate_series(1, {KEPT}) i""",
        "recent (kept)": f"""
            INSERT INTO executions (id, workflow_id, status, payload, result, attempt,
                created_at, updated_at, completed_at)
            SELECT 'n' || i, 'bench', 'completed', '{{}}', '"ok"', 1, {now - 3600},
                {now - 3600}, {now - 3600}
            FROM generate_series(1, {KEPT}) i""",
        "steps": """
            INSERT INTO steps (execution_id, step_key, kind, name, output, attempt, created_at)
            SELECT e.id, 'step_' || k, 'run', 'fn', '"x"', 1, e.created_at + k * 0.01
            FROM executions e, generate_series(1, 3) k""",
        "history": """
            INSERT INTO history (execution_id, at, event, attempt, detail)
            SELECT e.id, e.created_at + k * 0.01,
                (ARRAY['created', 'claimed', 'completed'])[k], 1, NULL
            FROM executions e, generate_series(1, 3) k""",
        "events": f"""
            INSERT INTO events (id, topic, event_type, data, created_at)
            SELECT 'ev' || i, 'workflow/bench/r' || i, 'progress', '{{}}', {old}
            FROM generate_series(1, {runs}) i""",
    }
    made: dict[str, int] = {}
    for what, sql in statements.items():
        began = time.perf_counter()
        status = await conn.execute(sql)
        made[what] = int(status.split()[-1])
        print(f"  {what:>15}: {made[what]:>10,} rows in {time.perf_counter() - began:6.1f} s")
    began = time.perf_counter()
    await conn.execute("ANALYZE")
    print(f"  {'analyze':>15}: {time.perf_counter() - began:6.1f} s")
    return made


class Probe:
    """A worker's claim, timed: queue a run, claim it, complete it, every 20 ms."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.latencies: list[float] = []
        self.running = True

    async def run(self) -> None:
        while self.running:
            now = time.time()
            new = NewExecution(str(uuid.uuid4()), "probe", "{}", now, queue_name="probe")
            await self.store.create_execution(new)
            began = time.perf_counter()
            claimed = await self.store.claim("probe-worker", {"probe": "probe"}, 1, now, 30.0)
            self.latencies.append(time.perf_counter() - began)
            for c in claimed:
                await self.store.complete_execution(c.execution.id, c.execution.attempt, "1", now)
            await asyncio.sleep(0.02)


def summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        return "no claims"

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    return (
        f"{len(ms)} claims: median {statistics.median(ms):.2f} ms, p95 {pct(0.95):.2f} ms, "
        f"p99 {pct(0.99):.2f} ms, max {ms[-1]:.2f} ms"
    )


async def probe_for(store: Store, seconds: float) -> list[float]:
    probe = Probe(store)
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(seconds)
    probe.running = False
    await task
    return probe.latencies


async def main(dsn: str, runs: int, batch: int, keep: bool) -> None:
    schema = f"purge_{uuid.uuid4().hex[:8]}"
    url = f"{dsn}?schema={schema}"
    admin = await asyncpg.connect(dsn)
    store = store_from_url(url)
    prober = store_from_url(url)  # a worker of its own: its own pool
    try:
        await store.open()
        await prober.open()
        now = time.time()
        print(f"schema {schema}: generating {runs:,} finished runs")
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        try:
            await generate(conn, runs, now)
        finally:
            await conn.close()
        cutoff = now - 30 * DAY

        began = time.perf_counter()
        counted = await purge(store, cutoff, dry_run=True)
        print(f"dry run: {counted} in {time.perf_counter() - began:.1f} s")

        before = await probe_for(prober, 5.0)
        print(f"claims before the purge: {summary(before)}")

        probe = Probe(prober)
        probing = asyncio.create_task(probe.run())
        began = time.perf_counter()
        done = await purge(store, cutoff, batch=batch)
        took = time.perf_counter() - began
        probe.running = False
        await probing
        print(
            f"purge: {done} in {took:.1f} s ({done.executions / took:,.0f} runs/s, batch {batch})"
        )
        print(f"claims during the purge: {summary(probe.latencies)}")

        async with admin.transaction():
            await admin.execute(f'SET LOCAL search_path TO "{schema}"')
            left = await admin.fetchrow(
                "SELECT count(*) FILTER (WHERE id LIKE 'w%') AS waiting, "
                "count(*) FILTER (WHERE id LIKE 'n%') AS recent, "
                "count(*) FILTER (WHERE completed_at < $1) AS old FROM executions",
                cutoff,
            )
        print(
            f"left: {left['waiting']:,} waiting and {left['recent']:,} recent runs "
            f"(expected {KEPT:,} each), {left['old']:,} old finished runs (expected 0)"
        )
        assert (left["waiting"], left["recent"], left["old"]) == (KEPT, KEPT, 0)
    finally:
        await prober.close()
        await store.close()
        if not keep:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DSN)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--keep-schema", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.runs, args.batch, args.keep_schema))
