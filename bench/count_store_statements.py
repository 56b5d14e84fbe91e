"""Statements the store sends per agent tool call (held run) and per 3-step
workflow, on each backend.

    .venv/bin/python bench/count_store_statements.py [--calls 20] [--workflows 200]
        [--database-url postgresql://...]

One agent makes ``--calls`` tool calls against the fake model, its run held
in memory (the default worker). Counted from the first model call to the
answer: on SQLite every statement the store's connection runs (its trace
callback, BEGIN and COMMIT included), on PostgreSQL every statement sent
(asyncpg's fetch, fetchval, fetchrow, execute and executemany: each a round
trip). Then ``--workflows`` runs of bench_core's 3-step workflow, submitted
with ``run()`` one after another and then all at once (as bench_core's two
throughput cases do), counted the same way, per workflow. Timings on a
shared machine move by 2x from minute to minute; these counts do not, so
they show what a change to the store or the engine saves.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENAI_API_KEY", "bench")

import asyncpg  # type: ignore[import-untyped]

import bench_agent_tools as bench
from polos import Polos
from polos.testing import FakeOpenAIServer, Turn

DSN = "postgresql://postgres@127.0.0.1:5432/test"
_sent: list[str] | None = None


def _count_asyncpg() -> None:
    """Wrap asyncpg's statement methods so that each statement sent is noted."""
    for name in ("fetch", "fetchval", "fetchrow", "execute", "executemany"):
        original = getattr(asyncpg.connection.Connection, name)

        def counted(self: Any, query: str, *args: Any, _original: Any = original, **kw: Any) -> Any:
            if _sent is not None:
                _sent.append(" ".join(str(query).split())[:90])
            return _original(self, query, *args, **kw)

        setattr(asyncpg.connection.Connection, name, counted)


async def count(url: str, calls: int, postgres: bool) -> list[str]:
    global _sent
    turns = [Turn.call("ping", {"n": i}) for i in range(calls)] + [Turn.reply("done")]
    seen: list[str] = []
    with FakeOpenAIServer(turns) as server:
        bench.pinger.provider_base_url, bench.pinger._provider = server.base_url, None
        async with Polos(
            database_url=url, workflows=[bench.pinger, bench.ping], hold_seconds=10
        ) as polos:
            await asyncio.sleep(0.5)  # the worker's start-up statements are not counted
            conn: sqlite3.Connection | None = None if postgres else polos.store._conn  # type: ignore[attr-defined]
            if conn is not None:
                conn.set_trace_callback(lambda sql: seen.append(" ".join(sql.split())[:90]))
            _sent = seen
            await bench.pinger.run(polos, "go", timeout=120)
            _sent = None
            if conn is not None:
                conn.set_trace_callback(None)
    return seen


async def count_workflows(url: str, runs: int, postgres: bool) -> dict[str, list[str]]:
    """Statements of ``runs`` 3-step workflows, one after another and all at once."""
    global _sent
    from case_polos import three_steps

    counted: dict[str, list[str]] = {}
    async with Polos(database_url=url, workflows=[three_steps]) as polos:
        for i in range(50):  # warm: first uses are not counted
            await three_steps.run(polos, i)
        conn: sqlite3.Connection | None = None if postgres else polos.store._conn  # type: ignore[attr-defined]
        for mode in ("one after another", "all at once"):
            seen: list[str] = []
            if conn is not None:
                conn.set_trace_callback(
                    lambda sql, kept=seen: kept.append(" ".join(sql.split())[:60])
                )
            _sent = seen
            if mode == "all at once":
                await asyncio.gather(*(three_steps.run(polos, i) for i in range(runs)))
            else:
                for i in range(runs):
                    await three_steps.run(polos, i)
            _sent = None
            if conn is not None:
                conn.set_trace_callback(None)
            counted[mode] = seen
    return counted


def report(backend: str, seen: list[str], calls: int, per: str = "tool call") -> None:
    print(f"{backend}: {len(seen)} statements, {len(seen) / calls:.1f} per {per}")
    for text, n in collections.Counter(seen).most_common(12):
        print(f"  {n / calls:5.2f}  {text}")


async def main(args: argparse.Namespace) -> None:
    _count_asyncpg()
    with tempfile.TemporaryDirectory() as folder:
        report("SQLite", await count(f"sqlite:///{folder}/count.db", args.calls, False), args.calls)
        flows = await count_workflows(f"sqlite:///{folder}/flows.db", args.workflows, False)
        for mode, seen in flows.items():
            report(f"SQLite, 3-step workflows {mode}", seen, args.workflows, "workflow")
    url, schema = bench.fresh_schema(f"{args.database_url}?schema=bench_count")
    try:
        report("PostgreSQL", await count(url, args.calls, True), args.calls)
    finally:
        await bench.drop_schema(args.database_url, schema)
    url, schema = bench.fresh_schema(f"{args.database_url}?schema=bench_count_flows")
    try:
        for mode, seen in (await count_workflows(url, args.workflows, True)).items():
            report(f"PostgreSQL, 3-step workflows {mode}", seen, args.workflows, "workflow")
    finally:
        await bench.drop_schema(args.database_url, schema)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--database-url", default=DSN, help="a PostgreSQL URL without ?schema")
    asyncio.run(main(parser.parse_args()))
