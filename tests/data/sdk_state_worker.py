"""A polos-sdk 0.1.15 agent with a tool, and a scheduled workflow, for
tests/test_polos_sdk_state.py (SDK venv only).

The agent's OpenAI provider reads OPENAI_BASE_URL (the test's fake model server)
and OPENAI_API_KEY from the environment. The scheduled workflow fires every
second and counts its runs in ``SDK_TEST_DIR``; the event-triggered one runs
once per event on ``sdks.orders``.
"""

# No `from __future__ import annotations`: the SDK reads the tool's input type at runtime.
import os
from pathlib import Path

from pydantic import BaseModel
from sdk_worker_boot import run_worker

from polos import Agent, EventPayload, SchedulePayload, WorkflowContext, tool, workflow

DIR = Path(os.environ.get("SDK_TEST_DIR", "."))


class WeatherQuery(BaseModel):
    city: str


class Weather(BaseModel):
    city: str
    sky: str


@tool(id="sdks_weather", description="The weather in a city")
async def weather(ctx: WorkflowContext, input: WeatherQuery) -> Weather:
    return Weather(city=input.city, sky="sunny")


forecaster = Agent(
    id="sdks_forecaster",
    provider="openai",
    model="gpt-4o-mini",
    system_prompt="You tell the weather.",
    tools=[weather],
)


@workflow(id="sdks_tick", schedule="* * * * * *")
async def tick(ctx: WorkflowContext, payload: SchedulePayload) -> dict[str, str]:
    with (DIR / "ticks.count").open("a") as f:
        f.write(f"{payload.schedule_id}\n")
    return {"schedule_id": payload.schedule_id}


@workflow(id="sdks_on_order", trigger_on_event="sdks.orders")
async def on_order(ctx: WorkflowContext, payload: EventPayload) -> dict[str, object]:
    return {"topic": payload.topic, "order": payload.data["order"]}


if __name__ == "__main__":
    run_worker(workflows=[tick, on_order], agents=[forecaster], tools=[weather])
