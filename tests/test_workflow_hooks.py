"""``@workflow(on_start=..., on_end=...)``: Polos's workflow hooks, run once each."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pydantic import BaseModel

from polos import (
    HookContext,
    HookResult,
    Polos,
    WorkflowContext,
    WorkflowDefinitionError,
    WorkflowFailedError,
    workflow,
)

CALLS: Counter[str] = Counter()


class Order(BaseModel):
    item: str
    quantity: int = 1


def normalise(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    CALLS["normalise"] += 1
    assert hook_ctx.workflow_id == "hooked_order"
    order = hook_ctx.current_payload
    return HookResult.continue_with(modified_payload={"item": order.item.upper()})


async def stamp(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    CALLS["stamp"] += 1
    return HookResult.continue_with(modified_output={**hook_ctx.current_output, "stamped": True})


@workflow(id="hooked_order", on_start=normalise, on_end=[stamp])
async def hooked_order(ctx: WorkflowContext, order: Order) -> dict[str, Any]:
    await ctx.step.wait_for("pause", seconds=0.05)  # a replay must not run the hooks again
    return {"item": order.item, "quantity": order.quantity}


def refuse(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    return HookResult.fail("orders are closed today")


@workflow(id="hooked_closed", on_start=refuse)
async def hooked_closed(ctx: WorkflowContext, order: Order) -> str:
    CALLS["closed body"] += 1
    return "sold"


async def test_hooks_change_payload_and_result_once(polos: Polos) -> None:
    CALLS.clear()
    result = await hooked_order.run(polos, Order(item="apple", quantity=3), timeout=20)
    assert result == {"item": "APPLE", "quantity": 3, "stamped": True}
    assert Counter({"normalise": 1, "stamp": 1}) == CALLS


async def test_a_failing_hook_fails_the_run(polos: Polos) -> None:
    CALLS.clear()
    with pytest.raises(WorkflowFailedError, match="orders are closed today"):
        await hooked_closed.run(polos, Order(item="pear"), timeout=20)
    assert CALLS["closed body"] == 0


def test_a_hook_that_is_not_a_function_is_refused_at_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match="on_end"):

        @workflow(id="hooked_bad", on_end="not a hook")
        async def hooked_bad(ctx: WorkflowContext) -> None:
            return None


async def test_hooks_are_not_run_again_when_the_run_replays(database_url: str) -> None:
    CALLS.clear()
    async with Polos(database_url=database_url, workflows=[hooked_order], hold_seconds=0) as polos:
        handle = await hooked_order.invoke(polos, Order(item="fig"))
        assert (await handle.result(timeout=20))["stamped"] is True
        info = await polos.get_execution(handle.id)
    assert info.attempt >= 2  # the wait freed the worker; the run was replayed after it
    assert Counter({"normalise": 1, "stamp": 1}) == CALLS
