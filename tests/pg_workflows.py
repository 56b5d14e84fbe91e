"""Workflows for the PostgreSQL multi-process tests (served by tests/apps/worker_app.py).

Every step writes its start and end to the step log (:mod:`toolkit.steplog`).
"""

from __future__ import annotations

import asyncio
import os
import random

from polos import WorkflowContext, workflow
from toolkit.steplog import log_step


async def traced_step(execution_id: str, step_key: str, max_seconds: float) -> str:
    log_step("start", execution_id, step_key)
    await asyncio.sleep(random.uniform(0, max_seconds))
    log_step("end", execution_id, step_key)
    return f"{step_key}@{os.getpid()}"


@workflow(id="pg_chain")
async def pg_chain(ctx: WorkflowContext, input: dict[str, float]) -> list[str]:
    """``steps`` sequential steps; returns the step keys in order."""
    eid = ctx.execution_id
    done = []
    for i in range(int(input["steps"])):
        key = f"s{i}"
        await ctx.step.run(key, traced_step, eid, key, float(input["max_seconds"]))
        done.append(key)
    return done
