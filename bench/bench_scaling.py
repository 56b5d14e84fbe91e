"""Throughput as worker processes are added, on one PostgreSQL database.

    .venv/bin/python bench/bench_scaling.py [--database-url postgresql://...] [--workflows 2000]

For K = 1, 2 and 4 worker processes (the tests' worker app serving
bench/scaling_workflows.py, started with tests/toolkit) on a fresh
schema, the client queues M 3-step workflows in one transaction, then waits
until all are completed; the figure is workflows per second from the
moment they were queued. Two modes: trivial steps (CPU-bound: on a 2-core
machine the worker and the database server already share the CPU, so more
processes cannot help), and I/O-bound steps (``--step-seconds 0.02``, like
API or LLM calls, with ``--slots 10`` per worker) where capacity adds up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from polos import BatchWorkflowInput, PolosClient  # noqa: E402
from toolkit.processes import WorkerProcess, start_workers, stop_workers  # noqa: E402

DSN = "postgresql://postgres@127.0.0.1:5432/test"


def workers_for(
    count: int, url: str, step_seconds: float, slots: int, workdir: Path
) -> list[WorkerProcess]:
    return start_workers(
        count,
        url,
        workdir / "steps.log",
        modules="scaling_workflows",
        PYTHONPATH=f"{HERE.parent / 'src'}{os.pathsep}{HERE}",
        STEP_SECONDS=str(step_seconds),
        POLOS_TEST_SLOTS=str(slots),
        POLOS_TEST_POLL="0.1",  # Worker's defaults, not the tests' quicker ones
        POLOS_TEST_GRACE="10",
    )


async def run_case(
    dsn: str, workers: int, workflows: int, step_seconds: float, slots: int
) -> float:
    schema = f"scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{dsn}?schema={schema}"
    try:
        async with PolosClient(database_url=url):  # migrate before the workers start
            pass
        workdir = Path(tempfile.mkdtemp(prefix="polos-scaling-"))
        procs = await asyncio.to_thread(workers_for, workers, url, step_seconds, slots, workdir)
        try:
            async with PolosClient(database_url=url) as client:
                items = [
                    BatchWorkflowInput(id="scale_three_steps", payload=i) for i in range(workflows)
                ]
                start = time.perf_counter()
                await client.batch_invoke(items)
                while True:
                    done = await admin.fetchval(
                        f"SELECT count(*) FROM {schema}.executions WHERE status = 'completed'"
                    )
                    if done >= workflows:
                        break
                    await asyncio.sleep(0.02)
                return workflows / (time.perf_counter() - start)
        finally:
            await stop_workers(procs)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DSN, help="a PostgreSQL URL without ?schema")
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--step-seconds", type=float, default=0.0)
    parser.add_argument(
        "--slots", type=int, default=100, help="max_concurrent_workflows per worker"
    )
    args = parser.parse_args()
    results = {
        k: await run_case(args.database_url, k, args.workflows, args.step_seconds, args.slots)
        for k in (1, 2, 4)
    }
    print(f"{'worker processes':<18}{'3-step wf/s':>14}{'vs 1 process':>15}")
    for k, rate in results.items():
        print(f"{k:<18}{rate:>14.0f}{rate / results[1]:>14.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
