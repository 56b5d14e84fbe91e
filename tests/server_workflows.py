"""Workflows the server tests start over HTTP (ids start with ``srv_``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from polos import Agent, WorkflowContext, tool, workflow


class Order(BaseModel):
    id: str
    amount: float


@workflow(id="srv_echo")
async def srv_echo(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    doubled = await ctx.step.run("double", lambda: input.get("n", 0) * 2)
    return {"input": input, "doubled": doubled}


@workflow(id="srv_order")
async def srv_order(ctx: WorkflowContext, order: Order) -> dict[str, Any]:
    return {"id": order.id, "charged": order.amount}


@workflow(id="srv_wait")
async def srv_wait(ctx: WorkflowContext, input: dict[str, Any]) -> Any:
    """Waits for an event on the topic named in its payload."""
    event = await ctx.step.wait_for_event("event", input["topic"], timeout=600)
    return event.data


APPROVAL_FORM = {
    "title": "Deploy api v2",
    "description": "Approve the deployment to production.",
    "fields": [
        {"key": "approved", "type": "boolean", "label": "Approve", "default": False},
        {"name": "approver", "type": "text", "label": "Your name", "required": True},
        {"key": "replicas", "type": "number", "label": "Replicas", "default": 3},
        {
            "key": "region",
            "type": "select",
            "label": "Region",
            "options": [{"label": "Europe", "value": "eu"}, {"label": "US", "value": "us"}],
            "default": "eu",
        },
        {"key": "reason", "type": "textarea", "label": "Comments"},
    ],
    "context": {"service": "api", "version": "2.0", "tests": "passing"},
}


@workflow(id="srv_approval")
async def srv_approval(ctx: WorkflowContext, input: dict[str, Any]) -> Any:
    form = input.get("form", APPROVAL_FORM)
    data = {"_form": form} if form is not None else {"amount": 12}
    answer = await ctx.step.suspend("approve", data=data, timeout=input.get("timeout", 600))
    await ctx.step.run("after", lambda: "done")
    return answer["data"]


@workflow(id="srv_parent")
async def srv_parent(ctx: WorkflowContext, input: dict[str, Any]) -> Any:
    """Its child suspends: the approval is addressed by this root's id."""
    return await ctx.step.invoke_and_wait("child", srv_approval, {"form": None})


class Sum(BaseModel):
    a: int
    b: int


@tool(id="srv_add", description="Adds two integers")
async def srv_add(ctx: WorkflowContext, input: Sum) -> int:
    return input.a + input.b


srv_agent = Agent(
    id="srv_agent",
    provider="openai",
    model="gpt-4o-mini",
    system_prompt="You add numbers.",
    tools=[srv_add],
    temperature=0.2,
)
