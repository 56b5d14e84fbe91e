"""Events: publish, wait_for_event (no event missed), timeouts, streams."""

from __future__ import annotations

import asyncio

import pytest

from polos import (
    EventData,
    ExecutionHandle,
    Polos,
    WaitTimeoutError,
    WorkflowContext,
    events,
    workflow,
)
from polos.events import StreamEvent
from toolkit.waiting import wait_for_status

SEEN: list[str] = []


def handle_topic(handle: ExecutionHandle) -> str:
    return f"workflow/{handle.root_workflow_id}/{handle.id}"


async def note(tag: str) -> str:
    SEEN.append(tag)
    return tag


@workflow(id="ev_waiter")
async def ev_waiter(ctx: WorkflowContext, input: dict[str, str]) -> dict[str, object]:
    await ctx.step.run("request", note, f"request:{input['id']}")
    decision = await ctx.step.wait_for_event("wait_approval", topic=f"approval/{input['id']}")
    await ctx.step.run("after", note, f"after:{input['id']}")
    return {
        "approved": decision.data["approved"],
        "seq": decision.sequence_id,
        "type": decision.event_type,
    }


async def test_wait_for_event_resumes_on_publish(polos: Polos) -> None:
    SEEN.clear()
    handle = await ev_waiter.invoke(polos, {"id": "r1"})
    await wait_for_status(polos, handle.id, "waiting")
    published = await events.publish(
        polos, "approval/r1", EventData(event_type="decision", data={"approved": True})
    )
    out = await handle.result(timeout=10)
    assert out == {"approved": True, "seq": published, "type": "decision"}
    assert SEEN == ["request:r1", "after:r1"]


async def test_event_published_before_the_wait_is_stored_is_not_missed(polos: Polos) -> None:
    """Publish right after the run was claimed, while it is still on its way to the wait."""
    SEEN.clear()
    handle = await ev_waiter.invoke(polos, {"id": "r2"})
    while not SEEN:  # the first step ran: the attempt is claimed, the wait not yet stored
        await asyncio.sleep(0)
    await events.publish(polos, "approval/r2", EventData(data={"approved": False}))
    out = await handle.result(timeout=10)
    assert out["approved"] is False


async def test_old_events_are_not_delivered_to_new_waits(polos: Polos) -> None:
    await events.publish(polos, "approval/r3", EventData(data={"approved": False}))
    handle = await ev_waiter.invoke(polos, {"id": "r3"})
    await wait_for_status(polos, handle.id, "waiting")
    await events.publish(polos, "approval/r3", EventData(data={"approved": True}))
    assert (await handle.result(timeout=10))["approved"] is True


@workflow(id="ev_timeout")
async def ev_timeout(ctx: WorkflowContext) -> str:
    try:
        await ctx.step.wait_for_event("never", topic="ev.nothing", timeout=0.3)
    except WaitTimeoutError as exc:
        await ctx.step.wait_for("pause", seconds=0.05)  # a replay re-raises the recorded timeout
        return f"timed out at {exc.step_key}"
    return "got an event"


async def test_wait_timeout_fires_and_can_be_caught(polos: Polos) -> None:
    assert await ev_timeout.run(polos, timeout=10) == "timed out at never"


@workflow(id="ev_publisher")
async def ev_publisher(ctx: WorkflowContext, input: dict[str, int]) -> int:
    for i in range(input["n"]):
        await ctx.step.publish_event(f"pub{i}", topic=ctx.topic, data={"i": i}, event_type="tick")
        await ctx.step.wait_for(f"pause{i}", seconds=0.02)
    return input["n"]


async def test_stream_workflow_yields_events_then_ends(polos: Polos) -> None:
    handle = await ev_publisher.invoke(polos, {"n": 4})
    stream = events.stream_workflow(polos, "ev_publisher", handle.id, last_sequence_id=0)
    everything = [e async for e in stream]
    received = [e for e in everything if e.event_type == "tick"]
    assert [e.data["i"] for e in received] == [0, 1, 2, 3]  # published once each despite replays
    assert all(isinstance(e, StreamEvent) and e.topic == handle_topic(handle) for e in received)
    seqs = [e.sequence_id for e in received]
    assert seqs == sorted(seqs)
    finish = everything[-1]  # the stream ends with the run's own finish event
    assert finish.event_type == "workflow_finish"
    assert finish.data == {
        "result": 4,
        "_metadata": {"execution_id": handle.id, "workflow_id": "ev_publisher"},
    }


async def test_stream_topic_from_a_sequence_id(polos: Polos) -> None:
    first = await events.batch_publish(polos, "ev.log", [EventData(data=i) for i in range(3)])
    stream = events.stream_topic(polos, "ev.log", last_sequence_id=first[0])
    got = [await anext(stream), await anext(stream)]
    assert [e.data for e in got] == [1, 2]
    later = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.05)
    await events.publish(polos, "ev.log", data=3)
    assert (await asyncio.wait_for(later, 5)).data == 3
    await stream.aclose()


async def test_bad_topic_is_a_clear_error(polos: Polos) -> None:
    with pytest.raises(TypeError, match="topic"):
        await events.publish(polos, "", EventData(data=1))
