"""Event-triggered workflows: one run per event (or batch), even with no worker up."""

from __future__ import annotations

import asyncio

from polos import (
    BatchEventPayload,
    EventData,
    EventPayload,
    Polos,
    PolosClient,
    WorkflowContext,
    events,
    workflow,
)

STARTED: list[str] = []


@workflow(id="trig_onboarding", trigger_on_event="user.signup")
async def trig_onboarding(ctx: WorkflowContext, input: EventPayload) -> str:
    STARTED.append(input.data["email"])
    await ctx.step.run("welcome", lambda: f"welcome {input.data['email']}")
    return str(input.data["email"])


@workflow(id="trig_batched", trigger_on_event="metrics", batch_size=3, batch_timeout_seconds=0.5)
async def trig_batched(ctx: WorkflowContext, input: BatchEventPayload) -> list[int]:
    return [e.data for e in input.events]


async def _runs(polos: Polos, workflow_id: str, count: int) -> list[object]:
    for _ in range(500):
        found = await polos.list_executions(workflow_id=workflow_id)
        if len(found) >= count and all(e.status == "completed" for e in found):
            return [e.result for e in found]
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} completed runs of {workflow_id}")


async def test_each_event_starts_exactly_one_run_even_when_published_while_down(
    database_url: str,
) -> None:
    STARTED.clear()
    # First start registers the trigger; then no worker runs while events are published.
    async with Polos(database_url=database_url, workflows=[trig_onboarding]):
        pass
    async with PolosClient(database_url=database_url) as client:
        for i in range(3):
            await events.publish(client, "user.signup", EventData(data={"email": f"u{i}@x"}))
    async with (
        Polos(database_url=database_url, workflows=[trig_onboarding]) as a,
        Polos(database_url=database_url, workflows=[trig_onboarding]),
    ):
        await events.publish(a, "user.signup", EventData(data={"email": "u3@x"}))
        results = await _runs(a, "trig_onboarding", 4)
        await asyncio.sleep(0.3)
        assert len(await a.list_executions(workflow_id="trig_onboarding")) == 4
    assert sorted(results) == ["u0@x", "u1@x", "u2@x", "u3@x"]
    assert sorted(STARTED) == ["u0@x", "u1@x", "u2@x", "u3@x"]


async def test_batches_by_size_then_by_timeout(database_url: str) -> None:
    async with Polos(database_url=database_url, workflows=[trig_batched]) as polos:
        await events.batch_publish(polos, "metrics", [EventData(data=i) for i in range(4)])
        results = await _runs(polos, "trig_batched", 2)  # [0,1,2] at once, [3] after the timeout
    assert sorted(results) == [[0, 1, 2], [3]]
