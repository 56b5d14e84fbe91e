"""The seed documents' examples run as written."""

from __future__ import annotations

import asyncio

import seed_examples as seed
from polos import EventData, Polos, PolosClient, events
from seed_examples import (
    ApprovalWorkflowInput,
    ConditionalWorkflowInput,
    Order,
    ParentInput,
    ProcessOrderInput,
    ProcessOrderOutput,
    approval_workflow,
    conditional_workflow,
    parent,
    parent_workflow,
    process_order,
)


async def _until(polos: Polos, execution_id: str, status: str) -> None:
    for _ in range(500):
        if (await polos.get_execution(execution_id)).status == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {status}")


async def test_approval_workflow_waits_for_the_event(polos: Polos) -> None:
    seed.CALLS.clear()
    handle = await approval_workflow.invoke(polos, ApprovalWorkflowInput(id="a1", data={"x": 1}))
    await _until(polos, handle.id, "waiting")
    await events.publish(polos, "approval/a1", EventData(data={"approved": True}))
    await handle.result(timeout=10)
    assert seed.CALLS == ["process_request", "execute_action"]


async def test_process_order_suspends_charges_waits_for_pickup(polos: Polos) -> None:
    seed.CALLS.clear()
    order = ProcessOrderInput(id="o-77", amount=2500, items=["desk"])
    handle = await process_order.invoke(polos, order)
    await _until(polos, handle.id, "waiting")
    [pending] = [s for s in await polos.list_suspended() if s.execution_id == handle.id]
    assert pending.data == {"id": "o-77", "amount": 2500.0, "items": ["desk"], "user": "ada"}
    # An approver in another process, with a plain client:
    async with PolosClient(database_url=polos.database_url) as approver:
        await approver.resume("process_order", handle.id, "approval", {"approved": True})
    await _until(polos, handle.id, "waiting")  # now waiting for the pickup
    assert (await polos.get_execution(handle.id)).waiting_on == "wait_pickup"
    await events.publish(polos, "warehouse.pickup/o-77", EventData(event_type="picked_up", data={}))
    assert await handle.result(timeout=10) == ProcessOrderOutput(
        status="completed", payment_id="pay_o-77"
    )
    assert seed.CALLS == ["charge_stripe", "send_shipping_email"]


async def test_process_order_rejected(polos: Polos) -> None:
    handle = await process_order.invoke(polos, ProcessOrderInput(id="o-78", amount=5000))
    await polos.resume(
        "process_order", handle.id, "approval", {"approved": False, "reason": "fraud"}
    )
    assert await handle.result(timeout=10) == ProcessOrderOutput(status="rejected", reason="fraud")


async def test_parent_child_examples(polos: Polos) -> None:
    assert await parent_workflow.run(polos, ParentInput(data="x"), timeout=10) == {
        "processed": True,
        "message": "Hello!",
    }
    child_id = await parent.run(polos, ParentInput(data="fire and forget"), timeout=10)
    assert await polos.wait_for_result(child_id, timeout=10) == {
        "processed": True,
        "message": "fire and forget",
    }


async def test_control_flow_with_gather(polos: Polos) -> None:
    seed.CALLS.clear()
    out = await conditional_workflow.run(
        polos,
        ConditionalWorkflowInput(
            amount=50, items=[Order(id="i1", amount=1), Order(id="i2", amount=2)]
        ),
        timeout=10,
    )
    assert out == ["task_a", "task_b", "task_c"]
    assert seed.CALLS[:3] == ["process_standard", "process_item", "process_item"]
    assert sorted(seed.CALLS[3:]) == ["task_a", "task_b", "task_c"]


async def test_event_triggered_onboarding_and_schedule(database_url: str) -> None:
    async with Polos(
        database_url=database_url, workflows=[seed.onboarding, seed.daily_report]
    ) as polos:
        await events.publish(
            polos, "user.signup.seed", EventData(data={"email": "grace@example.com"})
        )
        for _ in range(300):
            runs = await polos.list_executions(workflow_id="onboarding")
            if runs and runs[0].status == "completed":
                break
            await asyncio.sleep(0.02)
        assert [r.result for r in runs] == ["grace@example.com"]
        await asyncio.sleep(1.5)
        reports = [
            r
            for r in await polos.list_executions(workflow_id="daily_report")
            if r.status == "completed"
        ]
        assert reports and reports[0].result == "daily_report:global"
