"""Workflows of the retry and fork tests, served in-process and by worker subprocesses.

Every step writes its start and end to the step log (:mod:`toolkit.steplog`),
so a test counts what ran where. Step ``b`` fails while the file named by the
payload's ``gate`` does not exist: a test "fixes the bug" by creating it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from polos import BatchWorkflowInput, WorkflowContext, workflow
from toolkit.steplog import log_step


def _value(execution_id: str, step_key: str, n: int, seconds: float = 0.0) -> Any:
    async def body() -> dict[str, Any]:
        log_step("start", execution_id, step_key)
        await asyncio.sleep(seconds)
        log_step("end", execution_id, step_key)
        return {"step": step_key, "n": n, "pid": os.getpid()}

    return body


def _gated(execution_id: str, step_key: str, n: int, gate: str | None) -> Any:
    async def body() -> dict[str, Any]:
        log_step("start", execution_id, step_key)
        if gate is not None and not os.path.exists(gate):
            raise RuntimeError(f"gate closed: {gate}")
        log_step("end", execution_id, step_key)
        return {"step": step_key, "n": n, "pid": os.getpid()}

    return body


@workflow(id="retry_flow")
async def retry_flow(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    eid, n = ctx.execution_id, int(input.get("n", 0))
    a = await ctx.step.run("a", _value(eid, "a", n))
    b = await ctx.step.run("b", _gated(eid, "b", n, input.get("gate")), max_retries=0)
    # "slow" only while the file named "hold" exists (when one is named).
    hold = input.get("hold")
    slow = float(input.get("slow", 0.0)) if hold is None or os.path.exists(hold) else 0.0
    c = await ctx.step.run("c", _value(eid, "c", n, slow))
    return {"a": a["n"], "b": b["n"], "c": c["n"]}


@workflow(id="retry_other")
async def retry_other(ctx: WorkflowContext, input: dict[str, Any]) -> str:
    await ctx.step.run("boom", _gated(ctx.execution_id, "boom", 0, input["gate"]), max_retries=0)
    return "ok"


@workflow(id="retry_parent")
async def retry_parent(ctx: WorkflowContext, input: dict[str, Any]) -> list[Any]:
    eid = ctx.execution_id
    await ctx.step.run("before", _value(eid, "before", 0))
    extra = {k: input[k] for k in ("slow", "hold") if k in input}
    kids = [
        BatchWorkflowInput(id="retry_flow", payload={"n": 1, **extra}),
        BatchWorkflowInput(id="retry_flow", payload={"n": 2, "gate": input["gate"], **extra}),
    ]
    outcomes = await ctx.step.batch_invoke_and_wait("kids", kids)
    failed = [o.execution_id for o in outcomes if not o.success]
    if failed:
        raise RuntimeError(f"children failed: {failed}")
    await ctx.step.run("after", _value(eid, "after", 0))
    return [o.result for o in outcomes]
