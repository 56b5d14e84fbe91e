"""Cancelling queued, waiting and running executions."""

from __future__ import annotations

import asyncio

import pytest

from polos import (
    ExecutionCancelledError,
    ExecutionNotFoundError,
    Polos,
    PolosClient,
    WorkflowContext,
    workflow,
)
from toolkit.waiting import wait_for_status

RAN: list[str] = []
# Made afresh by each test: an asyncio.Event belongs to the loop that first waits on it.
GATES: dict[str, asyncio.Event] = {}


def _fresh_gates() -> tuple[asyncio.Event, asyncio.Event]:
    GATES["running"], GATES["proceed"] = asyncio.Event(), asyncio.Event()
    return GATES["running"], GATES["proceed"]


async def note(tag: str) -> str:
    RAN.append(tag)
    return tag


async def blocker() -> str:
    GATES["running"].set()
    await GATES["proceed"].wait()
    return "blocked"


@workflow(id="cancel_sleeper")
async def cancel_sleeper(ctx: WorkflowContext) -> str:
    await ctx.step.run("first", note, "first")
    await ctx.step.wait_for("long", hours=1)
    await ctx.step.run("after", note, "after")
    return "finished"


@workflow(id="cancel_runner")
async def cancel_runner(ctx: WorkflowContext) -> str:
    await ctx.step.run("block", blocker)
    await ctx.step.run("next", note, "next")
    return "finished"


async def test_cancel_queued(database_url: str) -> None:
    RAN.clear()
    async with PolosClient(database_url=database_url) as client:
        handle = await client.invoke("cancel_sleeper")
        assert await handle.cancel(client) is True
        assert (await client.get_execution(handle.id)).status == "cancelled"
    async with Polos(database_url=database_url, workflows=[cancel_sleeper]) as polos:
        with pytest.raises(ExecutionCancelledError):
            await handle.result(polos, timeout=5)
        await asyncio.sleep(0.2)
    assert RAN == []


async def test_cancel_waiting(polos: Polos) -> None:
    RAN.clear()
    handle = await cancel_sleeper.invoke(polos)
    await wait_for_status(polos, handle.id, "waiting")
    assert await polos.cancel_execution(handle.id) is True
    info = await polos.get_execution(handle.id)
    assert info.status == "cancelled" and info.completed_at is not None
    with pytest.raises(ExecutionCancelledError):
        await handle.result(polos, timeout=5)
    assert RAN == ["first"]
    history = [e.event for e in (await polos.get_execution(handle.id)).history]
    assert history[-1] == "cancelled"


async def test_cancel_running_stops_at_next_step(polos: Polos) -> None:
    RAN.clear()
    running, proceed = _fresh_gates()
    handle = await cancel_runner.invoke(polos)
    await asyncio.wait_for(running.wait(), 10)
    assert await polos.cancel_execution(handle.id) is True
    assert (await polos.get_execution(handle.id)).status == "cancelled"
    proceed.set()
    with pytest.raises(ExecutionCancelledError):
        await handle.result(polos, timeout=5)
    await asyncio.sleep(0.2)
    final = await polos.get_execution(handle.id)
    assert final.status == "cancelled"
    assert RAN == []  # the step after the boundary never ran
    assert [s.step_key for s in final.steps] == []  # the running step's output was refused


async def test_cancel_finished_is_left_alone_and_unknown_is_an_error(polos: Polos) -> None:
    _, proceed = _fresh_gates()
    proceed.set()
    handle = await cancel_runner.invoke(polos)
    assert await handle.result(polos, timeout=10) == "finished"
    assert await polos.cancel_execution(handle.id) is False
    assert (await polos.get_execution(handle.id)).status == "completed"
    with pytest.raises(ExecutionNotFoundError):
        await polos.cancel_execution("no-such-id")
