"""What the indexes on ``executions`` cost a status change, on PostgreSQL.

    .venv/bin/python bench/bench_pg_index_writes.py [--database-url postgresql://...]
        [--rows 20000] [--updates 2000] [--rounds 6]

A status change cannot be a HOT update (status is indexed), so it adds an
entry to every index whose predicate the new row meets. This bench fills a
fresh schema with completed top-level runs, then times status changes
(running, then completed again, one UPDATE each, inside one transaction so
that no WAL flush is timed) with the indexes as migrated, and with the three
that migration 0027 removed or narrowed put back as they were before it
(``executions_parent``, and ``executions_children`` and ``executions_root``
without their predicates). Rounds alternate between the two sets, so each
ratio is taken on the same load. Figures are per UPDATE, round trip
included. The schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg  # type: ignore[import-untyped]

from polos import PolosClient

DSN = "postgresql://postgres@127.0.0.1:5432/test"

BEFORE_0027 = """
DROP INDEX executions_children; DROP INDEX executions_root;
CREATE INDEX executions_parent ON executions (parent_execution_id)
    WHERE parent_execution_id IS NOT NULL;
CREATE INDEX executions_children ON executions (parent_execution_id, step_key, child_index);
CREATE INDEX executions_root ON executions (root_execution_id, created_at)
    WHERE root_execution_id IS NOT NULL;
"""
AS_MIGRATED = """
DROP INDEX executions_parent; DROP INDEX executions_children; DROP INDEX executions_root;
CREATE INDEX executions_children ON executions (parent_execution_id, step_key, child_index)
    WHERE parent_execution_id IS NOT NULL;
CREATE INDEX executions_root ON executions (root_execution_id, created_at)
    WHERE id <> root_execution_id;
"""


async def status_changes(conn: asyncpg.Connection, updates: int) -> float:
    """Microseconds per UPDATE over ``updates`` runs, each changed twice."""
    start = time.perf_counter()
    async with conn.transaction():
        for i in range(1, updates + 1):
            run = f"r{i}"
            await conn.execute(
                "UPDATE executions SET status = 'running', owner = 'w', "
                "lease_expires_at = 1e10, updated_at = 1 WHERE id = $1",
                run,
            )
            await conn.execute(
                "UPDATE executions SET status = 'completed', owner = NULL, "
                "lease_expires_at = NULL, completed_at = 2, updated_at = 2 WHERE id = $1",
                run,
            )
    return (time.perf_counter() - start) / (2 * updates) * 1e6


async def main(args: argparse.Namespace) -> None:
    schema = f"bench_idx_{uuid.uuid4().hex[:8]}"
    async with PolosClient(database_url=f"{args.database_url}?schema={schema}"):
        pass  # migrated
    conn = await asyncpg.connect(args.database_url, server_settings={"search_path": schema})
    try:
        await conn.execute(
            "INSERT INTO executions (id, workflow_id, status, payload, created_at, updated_at, "
            "completed_at, root_execution_id, queue_name, attempt, priority) "
            "SELECT 'r' || g, 'wf', 'completed', '{}', g, g, g, 'r' || g, 'wf', 1, 0 "
            "FROM generate_series(1, $1) g",
            args.rows,
        )
        await conn.execute("ANALYZE executions")
        await status_changes(conn, min(500, args.updates))  # warm caches
        figures: dict[str, list[float]] = {"before 0027": [], "as migrated": []}
        current = "as migrated"
        for _ in range(args.rounds):
            for name, script in (("before 0027", BEFORE_0027), ("as migrated", AS_MIGRATED)):
                if name != current:
                    await conn.execute(script)
                    current = name
                await conn.execute("VACUUM executions")
                figures[name].append(await status_changes(conn, args.updates))
        before, after = (statistics.median(figures[k]) for k in ("before 0027", "as migrated"))
        print(
            f"{args.rows} top-level runs, {args.updates} runs changed twice, {args.rounds} rounds"
        )
        for name, values in figures.items():
            rounded = ", ".join(f"{v:.0f}" for v in values)
            print(f"{name:<12} {statistics.median(values):7.1f} us per status change  ({rounded})")
        print(f"as migrated / before 0027: {after / before:.2f}x")
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DSN, help="a PostgreSQL URL without ?schema")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    asyncio.run(main(parser.parse_args()))
