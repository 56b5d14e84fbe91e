"""``queue_stats()`` (the dashboard's Queues page, ``polos queues``) against a queue
keyed per user, with many keys.

    .venv/bin/python bench/bench_queue_stats.py [--database-url postgresql://...]
        [--runs 300000] [--keys 150000] [--rounds 3]

Fills one queue with ``--runs`` waiting runs spread over ``--keys`` concurrency
keys (written straight into a fresh database or schema, after Polos created
its tables), then times ``queue_stats()`` with ``max_keys`` None (every key),
20 (the Queues page) and 0 (``polos queues``), and the plain ``GROUP BY`` over
the active runs that ``queue_stats()`` made before it bounded its keys, for
scale. Prints milliseconds per call, the median of ``--rounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlparse, urlunparse

import asyncpg  # type: ignore[import-untyped]

from polos import PolosClient

FILL = """INSERT INTO executions (id, workflow_id, status, payload, created_at, updated_at,
    queue_name, concurrency_key)
SELECT 'run-' || g, 'wf', 'waiting', 'null', g, g, 'per_user', 'user-' || (g % {keys})
FROM {series}"""
PG_SERIES = "generate_series(1, {runs}) AS g"
SQLITE_SERIES = "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {runs}) SELECT g FROM s)"
GROUP_BY = """SELECT queue_name, concurrency_key, status, count(*) FROM executions
WHERE status IN ('queued', 'running', 'waiting') GROUP BY queue_name, concurrency_key, status"""


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.0f}"


async def timed(work: Callable[[], Awaitable[Any]], rounds: int) -> tuple[list[float], Any]:
    samples, out = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        out = await work()
        samples.append(time.perf_counter() - start)
    return samples, out


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="postgresql://... (default SQLite)")
    parser.add_argument("--runs", type=int, default=300_000)
    parser.add_argument("--keys", type=int, default=150_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sql = FILL.format(keys=args.keys, series="{series}")
    folder = tempfile.mkdtemp()
    if args.database_url:
        parsed = urlparse(args.database_url)
        schema = f"bench_qs_{uuid.uuid4().hex[:8]}"
        url = urlunparse(parsed._replace(query=urlencode({"schema": schema})))
        base = urlunparse(parsed._replace(query=""))
        conn = await asyncpg.connect(base)
    else:
        url, schema, conn = f"sqlite:///{folder}/queues.db", "", None
    try:
        async with PolosClient(database_url=url) as client:
            await client.queue_stats()  # the tables, made by Polos
            start = time.perf_counter()
            if conn is not None:
                await conn.execute(f'SET search_path TO "{schema}"')
                await conn.execute(sql.format(series=PG_SERIES.format(runs=args.runs)))
                await conn.execute("ANALYZE executions")

                async def group_by() -> Any:
                    return await conn.fetch(GROUP_BY)
            else:
                raw = sqlite3.connect(f"{folder}/queues.db")
                raw.execute(sql.format(series=SQLITE_SERIES.format(runs=args.runs)))
                raw.commit()
                raw.execute("ANALYZE")

                async def group_by() -> Any:
                    return raw.execute(GROUP_BY).fetchall()

            print(
                f"{'PostgreSQL' if conn else 'SQLite'}: {args.runs:,} waiting runs over "
                f"{args.keys:,} keys of one queue (written in {time.perf_counter() - start:.1f} s)"
            )
            print(f"{'call':42} {'ms':>8}  result")
            samples, rows = await timed(group_by, args.rounds)
            print(
                f"{'GROUP BY queue, key, status (for scale)':42} {median_ms(samples)}  {len(rows):,} rows"
            )
            for max_keys in (None, 20, 0):
                samples, stats = await timed(
                    lambda m=max_keys: client.queue_stats(max_keys=m), args.rounds
                )
                [queue] = [s for s in stats if s.name == "per_user"]
                print(
                    f"{f'queue_stats(max_keys={max_keys})':42} {median_ms(samples)}  "
                    f"{queue.waiting:,} waiting, {queue.key_count:,} keys, {len(queue.by_key):,} listed"
                )
    finally:
        if conn is not None:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
