"""Agents and tools used by the agent tests (module level: restored by import path).

The fake LLM server's address comes from ``POLOS_TEST_LLM_URL`` (set by tests
before they run an agent, and passed to worker subprocesses).
"""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel

from polos import (
    Agent,
    Budget,
    ExecutedToolConfig,
    GuardrailContext,
    GuardrailResult,
    HookContext,
    MaxStepsConfig,
    MemoryConfig,
    WorkflowContext,
    ask_user,
    executed_tool,
    guardrail,
    max_steps,
    tool,
)
from toolkit.steplog import log_step

TOOL_CALLS: list[tuple[str, dict[str, object]]] = []


class InventoryQuery(BaseModel):
    sku: str
    quantity: int


class Stock(BaseModel):
    sku: str
    available: bool


class ShippingQuery(BaseModel):
    country: str


class SlowQuery(BaseModel):
    seconds: float


class Refund(BaseModel):
    order_id: str
    amount: float


class Verdict(BaseModel):
    valid: bool
    reason: str


@tool(description="Check stock for an item")
async def check_inventory(ctx: WorkflowContext, input: InventoryQuery) -> Stock:
    TOOL_CALLS.append(("check_inventory", input.model_dump()))
    return Stock(sku=input.sku, available=input.quantity <= 5)


@tool(description="Shipping cost to a country")
async def calculate_shipping(ctx: WorkflowContext, input: ShippingQuery) -> dict[str, float]:
    TOOL_CALLS.append(("calculate_shipping", input.model_dump()))
    return {"cost": 12.5 if input.country == "FR" else 30.0}


@tool(description="A tool that takes a while")
async def slow_tool(ctx: WorkflowContext, input: SlowQuery) -> str:
    log_step("start", ctx.execution_id, "slow_tool")
    # Held until the test creates the release file (it does so only after it
    # killed the worker running this), so a kill always lands mid-tool, however
    # loaded the machine is. Without the variable: a plain sleep.
    release = os.environ.get("POLOS_TEST_RELEASE")
    deadline = time.monotonic() + input.seconds
    while release is None or not os.path.exists(release):
        if time.monotonic() >= deadline:
            if release is None:
                break
            raise TimeoutError(f"slow_tool was not released within {input.seconds}s")
        await asyncio.sleep(0.01)
    return "slow done"


@tool(description="Refund an order", approval="always")
async def refund(ctx: WorkflowContext, input: Refund) -> str:
    TOOL_CALLS.append(("refund", input.model_dump()))
    return f"refunded {input.amount} on {input.order_id}"


@guardrail
def no_bad_words(context: GuardrailContext) -> GuardrailResult:
    if "bad" in context.text:
        return GuardrailResult.fail("do not say bad")
    return GuardrailResult.continue_with()


HOOK_EVENTS: list[str] = []


def record_hook(ctx: WorkflowContext, hook_ctx: HookContext) -> None:
    HOOK_EVENTS.append(f"{hook_ctx.event}:{hook_ctx.current_tool}")


def llm_url() -> str | None:
    return os.environ.get("POLOS_TEST_LLM_URL")


def make(agent_id: str, **options: object) -> Agent:
    return Agent(
        id=agent_id, provider="openai", model="gpt-test", provider_base_url=None, **options
    )  # type: ignore[arg-type]


shopper = make(
    "ag_shopper", system_prompt="You check orders.", tools=[check_inventory, calculate_shipping]
)
slow_agent = make("ag_slow", tools=[slow_tool])
refunder = make("ag_refunder", tools=[refund])
asker = make("ag_asker", tools=[ask_user])
careful = make("ag_careful", guardrails=[no_bad_words])
plain = make("ag_plain")
judged = make("ag_judged", guardrails=["Never promise a refund"])
judge = make("ag_judge", output_schema=Verdict)
stepper = make(
    "ag_stepper", tools=[check_inventory], stop_conditions=[max_steps(MaxStepsConfig(count=1))]
)
until_shipping = make(
    "ag_until_shipping",
    tools=[check_inventory, calculate_shipping],
    stop_conditions=[executed_tool(ExecutedToolConfig(tool_names=["calculate_shipping"]))],
)
rememberer = make("ag_memory", memory=MemoryConfig(max_messages=3, keep_recent=2))
thrifty = make(
    "ag_thrifty",
    tools=[check_inventory],
    budget=Budget(max_tokens=25),
    cost_per_million_tokens=(1.0, 2.0),
)
order_validation_agent = make(
    "ag_order_validation", tools=[check_inventory, calculate_shipping], output_schema=Verdict
)


hooked = make(
    "ag_hooked",
    tools=[check_inventory, calculate_shipping],
    on_tool_start=record_hook,
    on_tool_end=record_hook,
)
claude = Agent(id="ag_claude", provider="anthropic", model="claude-test", tools=[check_inventory])


def point_claude_at(url: str) -> None:
    claude.provider_base_url = url
    claude._provider = None


def point_agents_at(url: str) -> None:
    """Aim every test agent at the fake server (and future worker processes, via env)."""
    os.environ["POLOS_TEST_LLM_URL"] = url
    for agent in (
        plain,
        hooked,
        judged,
        shopper,
        slow_agent,
        refunder,
        asker,
        careful,
        judge,
        stepper,
        until_shipping,
        rememberer,
        thrifty,
        order_validation_agent,
    ):
        agent.provider_base_url = url
        agent._provider = None


if llm_url():
    point_agents_at(llm_url() or "")
