"""Human in the loop: suspend, resume (client, step, event), timeouts, early resumes."""

from __future__ import annotations

import asyncio

import pytest

from polos import (
    EventData,
    Polos,
    PolosError,
    WaitTimeoutError,
    WorkflowContext,
    events,
    workflow,
)
from polos.types import suspend_topic


@workflow(id="hitl_approval")
async def hitl_approval(ctx: WorkflowContext, input: dict[str, object]) -> dict[str, object]:
    decision = await ctx.step.suspend(
        "approval", data={"id": input["id"], "amount": input["amount"]}
    )
    if not decision.data["approved"]:
        return {"status": "rejected", "reason": decision.data.get("reason")}
    return {"status": "approved"}


async def _suspended(polos: Polos, execution_id: str) -> None:
    for _ in range(500):
        if any(s.execution_id == execution_id for s in await polos.list_suspended()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the run never suspended")


async def test_suspend_listed_then_resumed_by_client(polos: Polos) -> None:
    handle = await hitl_approval.invoke(polos, {"id": "o1", "amount": 1500})
    await _suspended(polos, handle.id)
    [pending] = [
        s for s in await polos.list_suspended("hitl_approval") if s.execution_id == handle.id
    ]
    assert (pending.step_key, pending.data) == ("approval", {"id": "o1", "amount": 1500})
    await polos.resume(
        "hitl_approval", handle.id, "approval", {"approved": False, "reason": "too much"}
    )
    assert await handle.result(timeout=10) == {"status": "rejected", "reason": "too much"}
    assert all(s.execution_id != handle.id for s in await polos.list_suspended())


async def test_resume_before_the_suspend_is_reached_is_kept(polos: Polos) -> None:
    handle = await hitl_approval.invoke(polos, {"id": "o2", "amount": 10})
    # Very likely before the worker even claimed it; in any case before or after, never lost.
    await polos.resume("hitl_approval", handle.id, "approval", {"approved": True})
    assert await handle.result(timeout=10) == {"status": "approved"}


async def test_resume_through_a_plain_event(polos: Polos) -> None:
    handle = await hitl_approval.invoke(polos, {"id": "o3", "amount": 10})
    await _suspended(polos, handle.id)
    await events.publish(
        polos, suspend_topic(handle.id, "approval"), EventData(data={"approved": True})
    )
    assert await handle.result(timeout=10) == {"status": "approved"}


@workflow(id="hitl_resumer")
async def hitl_resumer(ctx: WorkflowContext, input: dict[str, str]) -> str:
    await ctx.step.resume(
        "resume_it", "approval", input["target"], "hitl_approval", {"approved": True}
    )
    return "sent"


async def test_resume_from_another_workflow(polos: Polos) -> None:
    target = await hitl_approval.invoke(polos, {"id": "o4", "amount": 5})
    assert await hitl_resumer.run(polos, {"target": target.id}, timeout=10) == "sent"
    assert await target.result(timeout=10) == {"status": "approved"}


@workflow(id="hitl_timeout")
async def hitl_timeout(ctx: WorkflowContext) -> str:
    try:
        await ctx.step.suspend("approval", data={"q": "ok?"}, timeout=0.3)
    except WaitTimeoutError:
        return "escalated"
    return "answered"


async def test_suspend_timeout_really_fires(polos: Polos) -> None:
    assert await hitl_timeout.run(polos, timeout=10) == "escalated"


async def test_resume_errors_are_clear(polos: Polos) -> None:
    from polos import ExecutionNotFoundError

    with pytest.raises(ExecutionNotFoundError):
        await polos.resume("hitl_approval", "missing", "approval", {})
    done = await hitl_timeout.invoke(polos)
    await done.result(timeout=10)
    with pytest.raises(PolosError, match="already completed"):
        await polos.resume("hitl_timeout", done.id, "approval", {})
    with pytest.raises(PolosError, match="not 'nope'"):
        await polos.resume("nope", done.id, "approval", {})
