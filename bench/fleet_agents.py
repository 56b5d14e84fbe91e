"""The agent bench_agent_fleet.py runs, served by the tests' worker app (tests/apps/worker_app.py).

Its model is the bench's fake OpenAI server, at ``FLEET_MODEL_URL``.
"""

from __future__ import annotations

import os

import openai  # noqa: F401  (at the worker's start, not inside its first model call)
from pydantic import BaseModel

from polos import Agent, WorkflowContext, tool


class Number(BaseModel):
    n: int


@tool(description="Doubles a number")
async def double(ctx: WorkflowContext, input: Number) -> int:
    return input.n * 2


fleet_agent = Agent(
    id="fleet_agent",
    provider="openai",
    model="fleet",
    tools=[double],
    provider_base_url=os.environ.get("FLEET_MODEL_URL", "http://127.0.0.1:9/v1"),
    max_steps=20,
)
