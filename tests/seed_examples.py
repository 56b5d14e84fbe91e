"""The examples of the seed documents, as written, with stub step functions."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from polos import SchedulePayload, WorkflowContext, workflow

CALLS: list[str] = []


# --- stubs -------------------------------------------------------------------
class Order(BaseModel):
    id: str
    amount: float
    items: list[str] = []
    user: str = "ada"


class ProcessOrderInput(Order):
    pass


class ProcessOrderOutput(BaseModel):
    status: str
    reason: str | None = None
    payment_id: str | None = None


class Payment(BaseModel):
    id: str


class ApprovalWorkflowInput(BaseModel):
    id: str
    data: dict[str, Any] = {}


class ParentInput(BaseModel):
    data: str


class ChildInput(BaseModel):
    message: str


class ConditionalWorkflowInput(BaseModel):
    amount: float
    items: list[Order] = []


def _stub(name: str) -> Any:
    def fn(*args: Any) -> str:
        CALLS.append(name)
        return name

    fn.__name__ = fn.__qualname__ = name
    return fn


process_request = _stub("process_request")
execute_action = _stub("execute_action")
handle_rejection = _stub("handle_rejection")
send_shipping_email = _stub("send_shipping_email")
process_high_value = _stub("process_high_value")
process_standard = _stub("process_standard")
process_item = _stub("process_item")
task_a = _stub("task_a")
task_b = _stub("task_b")
task_c = _stub("task_c")
send_welcome_email = _stub("send_welcome_email")
generate_report = _stub("generate_report")


def charge_stripe(order: Order) -> Payment:
    CALLS.append("charge_stripe")
    return Payment(id=f"pay_{order.id}")


# --- "Waits and events" -------------------------------------------------------
@workflow
async def approval_workflow(ctx: WorkflowContext, input: ApprovalWorkflowInput) -> Any:
    await ctx.step.run("request", process_request, input.data)
    decision = await ctx.step.wait_for_event("wait_approval", topic=f"approval/{input.id}")
    if decision.data["approved"]:
        await ctx.step.run("execute", execute_action, input.data)
    else:
        await ctx.step.run("handle_rejection", handle_rejection, decision.data)


# --- the introduction's process_order (after the agent step) -------------------
@workflow
async def process_order(ctx: WorkflowContext, order: ProcessOrderInput) -> ProcessOrderOutput:
    if order.amount > 1000:
        decision = await ctx.step.suspend(
            "approval",
            data={"id": order.id, "amount": order.amount, "items": order.items, "user": order.user},
        )
        if not decision.data["approved"]:
            return ProcessOrderOutput(status="rejected", reason=decision.data.get("reason"))
    payment = await ctx.step.run("charge", charge_stripe, order)
    await ctx.step.wait_for_event("wait_pickup", topic=f"warehouse.pickup/{order.id}")
    await ctx.step.run("notify", send_shipping_email, order)
    return ProcessOrderOutput(status="completed", payment_id=payment.id)


# --- composition ------------------------------------------------------------------
@workflow
async def child_workflow(ctx: WorkflowContext, input: ChildInput) -> dict[str, Any]:
    return {"processed": True, "message": input.message}


@workflow
async def parent_workflow(ctx: WorkflowContext, input: ParentInput) -> Any:
    result = await ctx.step.invoke_and_wait(
        "call_child", child_workflow, ChildInput(message="Hello!")
    )
    return result


@workflow
async def parent(ctx: WorkflowContext, input: ParentInput) -> Any:
    exec_handle = await ctx.step.invoke("call_child", child_workflow, {"message": input.data})
    return exec_handle.id


# --- control flow -------------------------------------------------------------------
@workflow
async def conditional_workflow(ctx: WorkflowContext, input: ConditionalWorkflowInput) -> Any:
    if input.amount > 1000:
        await ctx.step.run("high_value", process_high_value, input)
    else:
        await ctx.step.run("standard", process_standard, input)
    for item in input.items:
        await ctx.step.run(f"process_{item.id}", process_item, item)
    results = await asyncio.gather(
        ctx.step.run("task_a", task_a, input),
        ctx.step.run("task_b", task_b, input),
        ctx.step.run("task_c", task_c, input),
    )
    return results


# --- event-triggered and scheduled -----------------------------------------------------
@workflow(trigger_on_event="user.signup.seed")
async def onboarding(ctx: WorkflowContext, event: Any) -> str:
    await ctx.step.run("welcome", send_welcome_email, event.data["email"])
    return str(event.data["email"])


@workflow(schedule="* * * * * *")
async def daily_report(ctx: WorkflowContext, input: SchedulePayload) -> str:
    await ctx.step.run("generate", generate_report, input.timestamp.isoformat())
    return input.schedule_id
