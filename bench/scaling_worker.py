"""A worker process for bench_scaling.py: serves ``scale_three_steps`` until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import sys

from polos import Worker, WorkflowContext, workflow
from polos.runtime.worker import wait_for_signal

STEP_SECONDS = float(os.environ.get("STEP_SECONDS", "0"))


async def trivial(i: int) -> int:
    if STEP_SECONDS:
        await asyncio.sleep(STEP_SECONDS)  # an I/O-bound step: an API or LLM call
    return i


@workflow(id="scale_three_steps")
async def scale_three_steps(ctx: WorkflowContext, n: int) -> int:
    total = 0
    for i in range(3):
        total += await ctx.step.run(f"s{i}", trivial, n + i)
    return total


async def main() -> None:
    worker = Worker(
        workflows=[scale_three_steps], max_concurrent_workflows=int(os.environ.get("SLOTS", "100"))
    )
    await worker.start()
    print("ready", flush=True)
    try:
        await wait_for_signal()
    finally:
        await worker.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
