"""Workflow state: survives waits, replays and crashes; readable at the end."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from polos import InvalidPayloadError, Polos, WorkflowContext, WorkflowDefinitionError, workflow


class Cart(BaseModel):
    items: list[str] = []
    total: float = 0.0


def add_in_step(ctx_state: Cart, item: str, price: float) -> str:
    # Mutating the state inside a step: it must survive the replay, which
    # does not run this function again.
    ctx_state.items.append(item)
    ctx_state.total += price
    return item


@workflow(id="state_cart", state_schema=Cart)
async def state_cart(ctx: WorkflowContext, input: dict[str, float]) -> float:
    ctx.state.items.append("base")
    await ctx.step.run("add_apple", add_in_step, ctx.state, "apple", input["apple"])
    await ctx.step.wait_for("pause", seconds=0.05)
    await ctx.step.run("add_pear", add_in_step, ctx.state, "pear", 2.0)
    await ctx.step.wait_for("pause2", seconds=0.05)
    return float(ctx.state.total)


async def test_state_survives_waits_and_replays(polos: Polos) -> None:
    handle = await state_cart.invoke(polos, {"apple": 1.5}, initial_state=Cart(items=["start"]))
    assert await handle.result(timeout=10) == 3.5
    info = await handle.get()
    assert info.state == Cart(items=["start", "base", "apple", "pear"], total=3.5)


async def test_state_defaults_and_validation(polos: Polos) -> None:
    handle = await state_cart.invoke(polos, {"apple": 1.0})
    await handle.result(timeout=10)
    assert (await handle.get()).state.items == ["base", "apple", "pear"]
    with pytest.raises(InvalidPayloadError, match="initial_state"):
        await state_cart.invoke(polos, {"apple": 1.0}, initial_state={"items": "not a list"})


def test_state_schema_must_be_a_model() -> None:
    with pytest.raises(WorkflowDefinitionError, match="state_schema"):

        @workflow(id="state_bad", state_schema=dict)  # type: ignore[arg-type]
        async def state_bad(ctx: WorkflowContext) -> None: ...
