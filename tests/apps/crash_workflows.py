"""Workflows run by worker subprocesses in the crash tests.

Every step writes its start and end to the step log (:mod:`toolkit.steplog`),
so the test can tell what ran where and when.
"""

from __future__ import annotations

import asyncio
import os

from polos import BatchWorkflowInput, WorkflowContext, queue, workflow
from toolkit.steplog import log_step


def traced(execution_id: str, step_key: str, seconds: float) -> object:
    async def body() -> dict[str, str]:
        log_step("start", execution_id, step_key)
        await asyncio.sleep(seconds)
        log_step("end", execution_id, step_key)
        return {"step": step_key, "by": str(os.getpid())}

    return body


@workflow(id="crash_order")
async def crash_order(ctx: WorkflowContext, input: dict[str, float]) -> dict[str, object]:
    slow = float(input.get("slow", 0.0))
    eid = ctx.execution_id
    order = await ctx.step.run("validate", traced(eid, "validate", 0.01))
    payment = await ctx.step.run("charge", traced(eid, "charge", 0.01))
    await ctx.step.run("send_email", traced(eid, "send_email", slow))
    return {"order": order["step"], "payment": payment["step"], "status": "completed"}


@workflow(id="crash_many_steps")
async def crash_many_steps(ctx: WorkflowContext, input: dict[str, float]) -> int:
    eid = ctx.execution_id
    for i in range(int(input["steps"])):
        await ctx.step.run(f"s{i}", traced(eid, f"s{i}", float(input["step_seconds"])))
    return int(input["steps"])


@workflow(id="crash_sleeper")
async def crash_sleeper(ctx: WorkflowContext, input: dict[str, float]) -> str:
    eid = ctx.execution_id
    await ctx.step.run("before", traced(eid, "before", 0.0))
    await ctx.step.wait_for("nap", seconds=float(input["seconds"]))
    await ctx.step.run("after", traced(eid, "after", 0.0))
    return "woke"


@workflow(id="crash_parent")
async def crash_parent(ctx: WorkflowContext, input: dict[str, float]) -> int:
    eid = ctx.execution_id
    await ctx.step.run("before", traced(eid, "before", 0.0))
    kids = [
        BatchWorkflowInput(
            id="crash_many_steps", payload={"steps": 3, "step_seconds": input["slow"]}
        )
        for _ in range(3)
    ]
    results = await ctx.step.batch_invoke_and_wait("kids", kids)
    await ctx.step.run("after", traced(eid, "after", 0.0))
    return sum(int(r.result) for r in results)


@workflow(id="crash_event_waiter")
async def crash_event_waiter(ctx: WorkflowContext, input: dict[str, str]) -> object:
    eid = ctx.execution_id
    await ctx.step.run("before", traced(eid, "before", 0.0))
    event = await ctx.step.wait_for_event("signal", topic=input["topic"])
    await ctx.step.run("after", traced(eid, "after", 0.0))
    return event.data


@workflow(id="fc_limited", queue=queue("fc_two", concurrency_limit=2))
async def fc_limited(ctx: WorkflowContext, input: dict[str, float]) -> str:
    await ctx.step.run("work", traced(ctx.execution_id, "work", float(input["seconds"])))
    return "ok"


@workflow(id="crash_resumed_parent")
async def crash_resumed_parent(ctx: WorkflowContext, input: dict[str, float]) -> int:
    """Waits on one quick child (its worker holds it meanwhile), then a slow step:
    a worker killed in that step dies holding a parent its child's completion claimed."""
    eid = ctx.execution_id
    await ctx.step.run("before", traced(eid, "before", 0.0))
    done = await ctx.step.invoke_and_wait(
        "kid", "crash_many_steps", {"steps": 1, "step_seconds": 0.0}
    )
    # Slow on the attempt its child's completion claimed (2), quick after a take-over.
    slow = float(input["slow"]) if ctx.attempt <= 2 else 0.0
    await ctx.step.run("after", traced(eid, "after", slow))
    return int(done)
