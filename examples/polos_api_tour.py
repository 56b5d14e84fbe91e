"""A tour of the Polos SDK's API shapes, as Polos code writes them, running here.

    .venv/bin/python examples/polos_api_tour.py

Everything below is written the way code for Polos's Python SDK is written
(positional constructor arguments, dict-shaped results, ``polos.features``
imports, event types on the run tree's stream), and runs embedded on SQLite
(``./.polos/polos.db``) or on whatever ``POLOS_DATABASE_URL`` names. The test
suite runs it on SQLite and PostgreSQL and checks what it prints.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from pydantic import BaseModel

from polos import (
    BatchEventPayload,
    BatchWorkflowInput,
    Polos,
    WorkflowContext,
    WorkflowState,
    get_all_workflows,
    schedules,
    workflow,
)
from polos.features import events


class Tally(WorkflowState):
    seen: int = 0


class Refund(BaseModel):
    order_id: str
    amount: float


@workflow(id="tour_refund", state_schema=Tally)
async def tour_refund(ctx: WorkflowContext, payload: Refund) -> dict[str, object]:
    stamp = await ctx.step.now("stamp")  # epoch milliseconds, fixed on replay
    await ctx.step.run("note", record_request, payload.order_id)
    ctx.state.seen += 1
    decision = await ctx.step.suspend(
        "approve_refund",
        data={
            "order_id": payload.order_id,
            "_form": {"title": f"Refund {payload.amount:.2f}?", "fields": [{"key": "ok"}]},
        },
        timeout=3600,
    )
    approved = decision.get("data", {}).get("ok", False)  # a dict, as in Polos
    return {"approved": approved, "stamp_is_int": isinstance(stamp, int), "seen": ctx.state.seen}


def record_request(order_id: str) -> str:
    return f"requested {order_id}"


@workflow(id="tour_waiter")
async def tour_waiter(ctx: WorkflowContext, payload: dict[str, str]) -> str:
    event = await ctx.step.wait_for_event("wait", topic=payload["topic"], timeout=60)
    return f"{event.event_type}:{event.data['n']}"


@workflow(id="tour_batch", trigger_on_event="tour/metrics", batch_size=2)
async def tour_batch(ctx: WorkflowContext, payload: BatchEventPayload) -> int:
    return sum(e.data["n"] for e in payload.events)


@workflow(id="tour_nightly", schedule=True)
async def tour_nightly(ctx: WorkflowContext, payload: object) -> str:
    return "ran"


@workflow(id="tour_slow")
async def tour_slow(ctx: WorkflowContext, payload: dict[str, int]) -> int:
    await ctx.step.wait_for("pause", seconds=30)
    return payload["n"]


async def main() -> None:
    log = Path(tempfile.gettempdir()) / "polos-api-tour.log"
    async with Polos(None, None, None, "tour", log_file=str(log)) as polos:  # Polos's positions
        print("workflows:", sorted(k for k in get_all_workflows() if k.startswith("tour_")))

        # A suspend, found on the run tree's stream, resumed by a person.
        handle = await tour_refund.invoke(polos, Refund(order_id="A-7", amount=19.5))
        async for event in events.stream_workflow(polos, handle.root_workflow_id, handle.id):
            if event.event_type.startswith("suspend_"):
                print("suspended at:", event.event_type[len("suspend_") :])
                print("form title:", event.data["_form"]["title"])
                print("has approval url:", event.data["_approval_url"].endswith("/approve_refund"))
                break
        await polos.resume(handle.root_workflow_id, handle.id, "approve_refund", {"ok": True})
        finished = [
            e.event_type
            async for e in events.stream_workflow(polos, handle.root_workflow_id, handle.id)
        ]
        print("stream ends with:", finished[-1])
        execution = await polos.get_execution(handle.id)
        print("status:", execution.get("status"), "result:", execution["result"])
        print("handle as dict has id:", handle.to_dict()["id"] == handle.id)

        # Events: publish returns the sequence id; a waiting run gets an EventPayload.
        waiter = await tour_waiter.invoke(polos, {"topic": "tour/signals"})
        while (await polos.get_execution(waiter.id)).get("status") != "waiting":
            await asyncio.sleep(0.02)
        seq = await events.publish(
            polos, "tour/signals", event_data=events.EventData(event_type="go", data={"n": 3})
        )
        print("sequence id is an int:", isinstance(seq, int))
        print("waiter got:", await waiter.result(timeout=30))

        # Event-triggered in batches of two.
        await events.batch_publish(
            polos, "tour/metrics", [events.EventData(data={"n": n}) for n in (4, 5)]
        )
        for _ in range(500):
            runs = await polos.list_executions(workflow_id="tour_batch", status="completed")
            if runs:
                break
            await asyncio.sleep(0.02)
        print("batch sum:", runs[0].result)

        # Schedules: create returns the schedule id.
        schedule_id = await schedules.create(polos, "tour_nightly", "0 3 * * *", key="eu")
        print("schedule id:", schedule_id)

        # Invoking by id with Polos's queue arguments; batches; cancel returns a bool.
        slow = await polos.invoke(
            "tour_slow", {"n": 1}, queue_name="tour-queue", queue_concurrency_limit=1
        )
        more = await polos.batch_invoke([BatchWorkflowInput(id="tour_slow", payload={"n": 2})])
        print("cancelled:", await slow.cancel(polos), await polos.cancel_execution(more[0].id))
        print("cancel again:", await slow.cancel(polos))


if __name__ == "__main__":
    asyncio.run(main())
