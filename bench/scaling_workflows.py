"""The workflow bench_scaling.py runs, served by the tests' worker app (tests/apps/worker_app.py)."""

from __future__ import annotations

import asyncio
import os

from polos import WorkflowContext, workflow

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
