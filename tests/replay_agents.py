"""An agent and tools for the tests of replayed decoded outputs (module level:
worker subprocesses import it by name).

The fake LLM server's address comes from ``POLOS_TEST_LLM_URL``; the files
that gate the tools come from ``POLOS_TEST_GATE`` and ``POLOS_TEST_RELEASE``.
"""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel

from polos import Agent, WorkflowContext, tool


class Number(BaseModel):
    n: int


@tool(description="Doubles n; fails while the gate file does not exist")
async def gated_double(ctx: WorkflowContext, input: Number) -> dict[str, int]:
    gate = os.environ.get("POLOS_TEST_GATE", "")
    if not gate or not os.path.exists(gate):
        raise RuntimeError("gate closed")
    return {"doubled": input.n * 2}


@tool(description="Returns n with its square; waits for the release file when n is negative")
async def held_square(ctx: WorkflowContext, input: Number) -> dict[str, int]:
    if input.n < 0:
        release = os.environ.get("POLOS_TEST_RELEASE", "")
        deadline = time.monotonic() + 60
        while not (release and os.path.exists(release)):
            if time.monotonic() >= deadline:
                raise TimeoutError("held_square was not released within 60 s")
            await asyncio.sleep(0.01)
    return {"n": input.n, "square": input.n * input.n}


@tool(description="Returns n, once a person approved the call", approval="always")
async def approved_echo(ctx: WorkflowContext, input: Number) -> int:
    return input.n


def _agent(agent_id: str) -> Agent:
    return Agent(
        id=agent_id,
        provider="openai",
        model="gpt-test",
        provider_base_url=os.environ.get("POLOS_TEST_LLM_URL"),
        tools=[gated_double, held_square, approved_echo],
        max_steps=50,
    )


replayer = _agent("ag_replayer")


def point_at(url: str) -> None:
    """Aim the agent at the fake server (and worker processes started later, via env)."""
    os.environ["POLOS_TEST_LLM_URL"] = url
    replayer.provider_base_url = url
    replayer._provider = None
