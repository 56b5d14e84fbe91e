"""Workflows the dashboard tests open in the browser (ids start with ``dash_``)."""

from __future__ import annotations

import asyncio
from typing import Any

from polos import WorkflowContext, workflow

#: A run of ``dash_steps`` holds in its first step until the test sets its gate.
GATES: dict[str, asyncio.Event] = {}
_FLAKY: dict[str, int] = {}


async def _gate(name: str) -> str:
    await GATES.setdefault(name, asyncio.Event()).wait()
    return "opened"


async def _pause(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


async def _flaky(name: str) -> str:
    """Fails on its first call for ``name``, then succeeds (one retry)."""
    _FLAKY[name] = _FLAKY.get(name, 0) + 1
    if _FLAKY[name] == 1:
        raise ConnectionError("the upstream service hung up (first try)")
    return "ok on retry"


@workflow(id="dash_child")
async def dash_child(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    slept = await ctx.step.run("child_work", _pause, 0.05)
    return {"child_of": input["name"], "slept": slept}


@workflow(id="dash_steps")
async def dash_steps(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    """A gate, timed work, a retried step, a durable sleep and a child."""
    name = input["name"]
    await ctx.step.run("gate", _gate, name)
    await ctx.step.run("fetch", _pause, 0.15)
    flaky = await ctx.step.run("call_api", _flaky, name, base_delay=0.05)
    await ctx.step.wait_for("cool_down", seconds=0.2)
    child = await ctx.step.invoke_and_wait("summarise", dash_child, {"name": name})
    report = {"name": name, "flaky": flaky, "child": child, "text": "x" * 300}
    await ctx.step.run("save", lambda: report)
    return report
