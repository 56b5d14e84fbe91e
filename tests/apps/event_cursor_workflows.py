"""Workflows for the event-cursor crash tests (tests/test_crash_event_cursor.py).

``hold_before`` / ``hold_between`` name files: while one exists, the step of
that name sleeps, so the test can SIGKILL the worker there (the steps before
it are recorded, the wait after it is not reached yet). Deleting the file lets
the next attempt pass through at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from polos import WorkflowContext, workflow
from toolkit.steplog import log_step


def held(execution_id: str, step_key: str, hold: str) -> object:
    async def body() -> str:
        log_step("start", execution_id, step_key)
        while hold and Path(hold).exists():
            await asyncio.sleep(0.05)
        log_step("end", execution_id, step_key)
        return step_key

    return body


@workflow(id="cursor_two_waits")
async def cursor_two_waits(ctx: WorkflowContext, input: dict[str, str]) -> list[object]:
    """Waits twice on one topic, with a step that can be held before each wait."""
    eid, topic = ctx.execution_id, input["topic"]
    await ctx.step.run("stall", held(eid, "stall", input.get("hold_before", "")))
    first = await ctx.step.wait_for_event("first", topic=topic)
    await ctx.step.run("between", held(eid, "between", input.get("hold_between", "")))
    second = await ctx.step.wait_for_event("second", topic=topic)
    return [first.data, second.data]


@workflow(id="cursor_parallel_waits")
async def cursor_parallel_waits(ctx: WorkflowContext, input: dict[str, str]) -> list[object]:
    """Two waits on one topic in parallel branches."""
    eid, topic = ctx.execution_id, input["topic"]
    await ctx.step.run("stall", held(eid, "stall", input.get("hold_before", "")))
    first, second = await asyncio.gather(
        ctx.step.wait_for_event("left", topic=topic),
        ctx.step.wait_for_event("right", topic=topic),
    )
    return [first.data, second.data]
