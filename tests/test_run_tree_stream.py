"""``events.stream_workflow`` follows a whole run tree with Polos's event types."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from polos import Polos, WorkflowContext, events, workflow
from polos.events import StreamEvent
from polos.runtime.client import store_of


def double(n: int) -> int:
    return n * 2


@workflow(id="tree_child")
async def tree_child(ctx: WorkflowContext, payload: dict[str, int]) -> int:
    return await ctx.step.run("double", double, payload["n"])


@workflow(id="tree_parent")
async def tree_parent(ctx: WorkflowContext, payload: dict[str, int]) -> dict[str, Any]:
    first = await ctx.step.run("prepare", double, payload["n"])
    child = await ctx.step.invoke_and_wait("child", tree_child, {"n": first})
    await ctx.step.publish_workflow_event("progress", data={"child": child}, event_type="note")
    answer = await ctx.step.suspend("confirm", data={"child": child})
    return {"child": child, "confirmed": answer.get("data")}


@workflow(id="tree_failing")
async def tree_failing(ctx: WorkflowContext) -> None:
    raise ValueError("out of stock")


def _kinds(stream: list[StreamEvent]) -> list[tuple[str | None, str]]:
    return [(e.event_type, e.data.get("_metadata", {}).get("workflow_id", "")) for e in stream]


async def _until(stream: Any, predicate: Any) -> list[StreamEvent]:
    seen = []
    async for event in stream:
        seen.append(event)
        if predicate(event):
            return seen
    raise AssertionError(f"the stream ended without the event: {_kinds(seen)}")


async def test_the_tree_stream_carries_steps_children_suspends_and_finishes(polos: Polos) -> None:
    handle = await tree_parent.invoke(polos, {"n": 5})
    stream = events.stream_workflow(polos, handle.root_workflow_id, handle.id, last_sequence_id=0)
    first = await asyncio.wait_for(_until(stream, lambda e: e.event_type == "suspend_confirm"), 30)
    kinds = _kinds(first)
    # the parent's step, then the child's step and finish, in order
    assert kinds.index(("step_start", "tree_parent")) < kinds.index(("step_finish", "tree_parent"))
    assert kinds.index(("step_finish", "tree_parent")) < kinds.index(("step_start", "tree_child"))
    assert kinds.index(("step_finish", "tree_child")) < kinds.index(
        ("workflow_finish", "tree_child")
    )
    child_finish = next(e for e in first if e.event_type == "workflow_finish")
    assert child_finish.data["result"] == 20
    step = next(
        e for e in first if e.event_type == "step_finish" and e.data["step_key"] == "double"
    )
    assert step.data["data"] == {"result": 20} and step.data["step_type"] == "run"
    note = next(e for e in first if e.event_type == "note")
    assert note.data == {"child": 20}
    suspend = first[-1]
    assert suspend.data["child"] == 20
    assert suspend.data["_approval_url"].endswith(f"/approve/{handle.id}/confirm")
    assert all(e.topic == f"workflow/tree_parent/{handle.id}" for e in first)

    # a second stream from now still sees the suspend the tree waits at
    late = events.stream_workflow(polos, handle.root_workflow_id, handle.id)
    again = await asyncio.wait_for(anext(late), 10)
    assert again.event_type == "suspend_confirm" and again.sequence_id == suspend.sequence_id

    await polos.resume(handle.root_workflow_id, handle.id, "confirm", {"ok": True})
    rest = [e async for e in stream]
    assert rest[-1].event_type == "workflow_finish"
    assert rest[-1].data["result"] == {"child": 20, "confirmed": {"ok": True}}
    assert rest[-1].data["_metadata"] == {"execution_id": handle.id, "workflow_id": "tree_parent"}
    after_resume = [e async for e in late]
    assert after_resume[-1].event_type == "workflow_finish"

    # resuming from a sequence id: only what came after it
    resumed = [
        e
        async for e in events.stream_workflow(
            polos, "tree_parent", handle.id, last_sequence_id=note.sequence_id
        )
    ]
    assert [e.event_type for e in resumed] == ["suspend_confirm", "workflow_finish"]

    # a stream asked for after the end yields the finish and ends
    done = [e async for e in events.stream_workflow(polos, "tree_parent", handle.id)]
    assert [e.event_type for e in done] == ["workflow_finish"]


async def test_a_failed_run_ends_its_stream_with_the_error(polos: Polos) -> None:
    handle = await tree_failing.invoke(polos)
    stream = events.stream_workflow(polos, "tree_failing", handle.id, last_sequence_id=0)
    seen = await asyncio.wait_for(_collect(stream), 30)
    assert seen[-1].event_type == "workflow_finish"
    assert seen[-1].data["status"] == "failed"
    assert seen[-1].data["error"]["message"] == "out of stock"


async def _collect(stream: Any) -> list[StreamEvent]:
    return [e async for e in stream]


async def test_wrong_workflow_id_is_a_clear_error(polos: Polos) -> None:
    handle = await tree_child.invoke(polos, {"n": 1})
    with pytest.raises(Exception, match="root_workflow_id"):
        await anext(events.stream_workflow(polos, "not_this_one", handle.id))


@workflow(id="tree_waits_for_polos_resume")
async def tree_waits_for_polos_resume(ctx: WorkflowContext) -> Any:
    answer = await ctx.step.suspend("sign_off", data={"what": "the plan"})
    return answer["data"]


async def test_a_resume_event_published_as_polos_does_resumes_the_run(polos: Polos) -> None:
    """Polos's clients resume by publishing ``resume_<key>`` on the tree's topic."""
    handle = await tree_waits_for_polos_resume.invoke(polos)
    stream = events.stream_workflow(polos, handle.root_workflow_id, handle.id)
    await asyncio.wait_for(_until(stream, lambda e: e.event_type == "suspend_sign_off"), 30)
    topic = f"workflow/{handle.root_workflow_id}/{handle.id}"
    other = await events.publish(polos, topic, events.EventData(event_type="resume_other", data={}))
    seq = await events.publish(
        polos, topic, events.EventData(event_type="resume_sign_off", data={"ok": True})
    )
    assert seq > other  # the caller gets its own event's sequence id back
    assert await handle.result(timeout=20) == {"ok": True}


@workflow(id="tree_two_forms")
async def tree_two_forms(ctx: WorkflowContext) -> list[Any]:
    first = await ctx.step.suspend("form_1", data={"form": 1})
    second = await ctx.step.suspend("form_2", data={"form": 2})
    return [first["data"], second["data"]]


async def test_a_stream_from_now_skips_a_suspend_answered_but_not_yet_taken(
    polos: Polos,
) -> None:
    """A consumer that resumes one suspend and at once streams for the next one
    (Polos's example 09 does) must see the next one, not the one it answered,
    even when the answer came before the run got from the announcement to its
    wait (so nothing recorded the answer yet)."""
    store = await store_of(polos)
    gate = asyncio.Event()
    parking = store.wait_for_event

    async def slow_to_park(
        execution_id: str, attempt: int, step_key: str, *a: Any, **k: Any
    ) -> Any:
        if step_key == "form_1":  # hold the run between its announcement and its wait
            await gate.wait()
        return await parking(execution_id, attempt, step_key, *a, **k)

    store.wait_for_event = slow_to_park  # type: ignore[method-assign]
    try:
        handle = await tree_two_forms.invoke(polos)
        stream = events.stream_workflow(polos, handle.root_workflow_id, handle.id)
        await asyncio.wait_for(_until(stream, lambda e: e.event_type == "suspend_form_1"), 30)
        await stream.aclose()
        await polos.resume(handle.root_workflow_id, handle.id, "form_1", {"name": "Ada"})
        stream = events.stream_workflow(polos, handle.root_workflow_id, handle.id)
        first = asyncio.ensure_future(
            _until(stream, lambda e: (e.event_type or "").startswith("suspend_"))
        )
        await asyncio.sleep(0.2)  # the stream has started from now
        gate.set()
        seen = await asyncio.wait_for(first, 30)
        assert seen[-1].event_type == "suspend_form_2", _kinds(seen)
        assert seen[-1].data["form"] == 2
        await stream.aclose()
        await polos.resume(handle.root_workflow_id, handle.id, "form_2", {"ok": True})
        assert await handle.result(timeout=30) == [{"name": "Ada"}, {"ok": True}]
    finally:
        gate.set()
        store.wait_for_event = parking  # type: ignore[method-assign]
