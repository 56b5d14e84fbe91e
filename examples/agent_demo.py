"""An order-validation agent with two tools, offline by default.

    .venv/bin/python examples/agent_demo.py

Without ``OPENAI_API_KEY`` the agent talks to polos.testing's fake OpenAI
server, which replays a scripted conversation (two parallel tool calls, then
a structured verdict), so the demo runs anywhere. With the key set it asks
the real OpenAI API (model ``POLOS_DEMO_MODEL``, default gpt-4o-mini).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from pydantic import BaseModel

from polos import Agent, Polos, WorkflowContext, tool
from polos.testing import FakeOpenAIServer, FakeToolCall, Turn


class InventoryQuery(BaseModel):
    sku: str
    quantity: int


class ShippingQuery(BaseModel):
    country: str


class Verdict(BaseModel):
    valid: bool
    reason: str


@tool(description="Check whether an item is in stock in the requested quantity")
async def check_inventory(ctx: WorkflowContext, input: InventoryQuery) -> dict[str, object]:
    return {"sku": input.sku, "in_stock": input.quantity <= 5}


@tool(description="Shipping cost in EUR to a country (ISO code)")
async def calculate_shipping(ctx: WorkflowContext, input: ShippingQuery) -> dict[str, float]:
    return {"cost": 12.5 if input.country == "FR" else 30.0}


order_validation_agent = Agent(
    id="order_validation_agent",
    provider="openai",
    model=os.environ.get("POLOS_DEMO_MODEL", "gpt-4o-mini"),
    system_prompt="You validate orders: check stock and shipping with your tools, then answer.",
    tools=[check_inventory, calculate_shipping],
    output_schema=Verdict,
)

SCRIPT = [
    Turn.calls(
        FakeToolCall("check_inventory", {"sku": "desk", "quantity": 2}),
        FakeToolCall("calculate_shipping", {"country": "FR"}),
    ),
    Turn(
        text='{"valid": true, "reason": "2 desks in stock, shipping 12.50 EUR"}', chunk_delay=0.02
    ),
]


async def main() -> None:
    offline = not os.environ.get("OPENAI_API_KEY")
    server = FakeOpenAIServer(SCRIPT) if offline else contextlib.nullcontext()
    with server as llm:
        if llm is not None:
            order_validation_agent.provider_base_url = llm.base_url
            print(f"(offline: a fake OpenAI server at {llm.base_url} plays the model)")
        async with Polos(database_url="sqlite:///.polos/agent-demo.db") as polos:
            stream = await order_validation_agent.stream(polos, "Validate: 2 desks shipped to FR")
            async for event in stream:
                if event.type == "text_delta":
                    print(event.text, end="", flush=True)
                elif event.type in ("tool_start", "tool_end"):
                    print(f"[{event.type}] {event.data}")
                elif event.type == "done" and event.result is not None:
                    print(f"\nverdict: {event.result.result!r}")
                    print(
                        f"tokens: {event.result.usage.total_tokens}, steps: {len(event.result.steps)}"
                    )


if __name__ == "__main__":
    asyncio.run(main())
