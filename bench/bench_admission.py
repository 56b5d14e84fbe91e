"""Admission overhead: runs through an unlimited queue vs a limited queue with
1,000 distinct concurrency keys, on one worker, in one run.

    .venv/bin/python bench/bench_admission.py [--database-url URL] [--runs 2000]

Each case invokes the same trivial 1-step workflow ``--runs`` times and waits
for all; the figure is runs per second, and the ratio is keyed / unlimited.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from polos import BatchWorkflowInput, Polos, WorkflowContext, queue, workflow

keyed_queue = queue("bench_keyed", concurrency_limit=1)


async def noop() -> None:
    return None


@workflow(id="bench_free")
async def bench_free(ctx: WorkflowContext) -> None:
    await ctx.step.run("s", noop)


@workflow(id="bench_keyed", queue=keyed_queue)
async def bench_keyed(ctx: WorkflowContext) -> None:
    await ctx.step.run("s", noop)


async def run_case(url: str, workflow_id: str, runs: int, keys: int | None) -> float:
    async with Polos(
        database_url=url, workflows=[bench_free, bench_keyed], max_concurrent_workflows=100
    ) as polos:
        items = [
            BatchWorkflowInput(
                id=workflow_id, concurrency_key=None if keys is None else f"tenant-{i % keys}"
            )
            for i in range(runs)
        ]
        start = time.perf_counter()
        handles = await polos.batch_invoke(items)
        for h in handles:
            await h.result(timeout=600)
        return runs / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        free_url = args.database_url or f"sqlite:///{Path(tmp) / 'free.db'}"
        keyed_url = args.database_url or f"sqlite:///{Path(tmp) / 'keyed.db'}"
        free = await run_case(free_url, "bench_free", args.runs, None)
        keyed = await run_case(keyed_url, "bench_keyed", args.runs, args.keys)
    print(f"unlimited queue, no keys:            {free:8.0f} runs/s")
    print(f"limit 1 per key, {args.keys} distinct keys: {keyed:8.0f} runs/s")
    print(f"ratio keyed / unlimited:             {keyed / free:8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
