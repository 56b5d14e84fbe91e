"""Workflows the dashboard tests open in the browser (ids start with ``dash_``)."""

from __future__ import annotations

import asyncio
from typing import Any

from polos import WorkflowContext, queue, workflow

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


@workflow(id="dash_trace")
async def dash_trace(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    """Two steps gathered (they run at the same time), then a child waited for."""
    left, right = await asyncio.gather(
        ctx.step.run("left", _pause, 0.2), ctx.step.run("right", _pause, 0.15)
    )
    child = await ctx.step.invoke_and_wait("kid", dash_child, {"name": input["name"]})
    return {"slept": left + right, "child": child}


@workflow(id="dash_gated_tree")
async def dash_gated_tree(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    """One step recorded, then held at a gate until the test opens it, then a child."""
    await ctx.step.run("first", _pause, 0.01)
    await ctx.step.run("gate", _gate, input["name"])
    child = await ctx.step.invoke_and_wait("kid", dash_child, {"name": input["name"]})
    return {"child": child}


limited = queue("dash_limited", concurrency_limit=2)


@workflow(id="dash_limited", queue=limited)
async def dash_limited(ctx: WorkflowContext, input: dict[str, Any]) -> str:
    """Holds (running, in a queue of two) until the test opens its gate."""
    return str(await ctx.step.run("gate", _gate, input["name"]))


def _agent() -> Any:
    """An agent with prices and a guardrail (cost and decisions show on its page)."""
    from agent_defs import calculate_shipping, check_inventory, make, no_bad_words

    return make(
        "dash_agent",
        system_prompt="You check orders.",
        tools=[check_inventory, calculate_shipping],
        guardrails=[no_bad_words],
        cost_per_million_tokens=(1.0, 2.0),
    )


dash_agent = _agent()


def point_agent_at(url: str) -> None:
    dash_agent.provider_base_url = url
    dash_agent._provider = None
