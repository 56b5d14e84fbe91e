"""Plain (``def``) steps: they run on the step threads and never hold the event loop.

Nothing here is timed for speed (that is bench/bench_core.py); the sleeps
only make one run's step outlast another run so that overlap can be seen.
"""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import os
import threading
import time

import pytest

from polos import (
    ExecutionCancelledError,
    Polos,
    WorkflowContext,
    WorkflowFailedError,
    step,
    workflow,
)
from polos.engine.calls import call_function
from polos.engine.step_threads import StepThreads
from toolkit.waiting import wait_for_status

EVENTS: list[str] = []
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="unset")


def sleepy(seconds: float) -> str:
    EVENTS.append("sleep-start")
    time.sleep(seconds)
    EVENTS.append("sleep-end")
    return threading.current_thread().name


def quick(tag: str) -> str:
    EVENTS.append(f"quick-{tag}")
    return threading.current_thread().name


def broken(kind: str) -> None:
    raise ValueError(f"broken {kind}")


@step(inline=True)
def inline_name() -> str:
    return threading.current_thread().name


@workflow(id="plain_sleeper")
async def plain_sleeper(ctx: WorkflowContext, seconds: float) -> str:
    name: str = await ctx.step.run("sleep", sleepy, seconds)
    return name


@workflow(id="plain_quick")
async def plain_quick(ctx: WorkflowContext, tag: str) -> str:
    name: str = await ctx.step.run("quick", quick, tag)
    return name


@workflow(id="plain_broken")
async def plain_broken(ctx: WorkflowContext) -> None:
    await ctx.step.run("broken", broken, "step", max_retries=0)


@workflow(id="plain_inline")
async def plain_inline(ctx: WorkflowContext) -> dict[str, str]:
    return {"inline": await inline_name(), "loop": threading.current_thread().name}


async def test_a_long_plain_step_does_not_hold_other_runs(polos: Polos) -> None:
    EVENTS.clear()
    slow = await plain_sleeper.invoke(polos, 1.0)
    while "sleep-start" not in EVENTS:  # the slow step is running in its thread
        await asyncio.sleep(0.01)
    assert await plain_quick.run(polos, "a", timeout=10) == "polos-step"
    assert await plain_quick.run(polos, "b", timeout=10) == "polos-step"
    assert "sleep-end" not in EVENTS, "the quick runs finished while the sleep went on"
    assert await slow.result(timeout=10) == "polos-step"
    assert EVENTS == ["sleep-start", "quick-a", "quick-b", "sleep-end"]


async def test_a_plain_step_failure_is_the_step_failure(polos: Polos) -> None:
    with pytest.raises(WorkflowFailedError) as err:
        await plain_broken.run(polos, timeout=10)
    assert err.value.error["type"] == "StepExecutionError"
    assert "broken step" in str(err.value.error["message"])


async def test_inline_step_runs_on_the_loop_thread(polos: Polos) -> None:
    names = await plain_inline.run(polos, timeout=10)
    assert names["inline"] == names["loop"] != "polos-step"


async def test_cancelling_a_run_whose_plain_step_sleeps(polos: Polos) -> None:
    EVENTS.clear()
    handle = await plain_sleeper.invoke(polos, 0.5)
    await wait_for_status(polos, handle.id, "running")
    while "sleep-start" not in EVENTS:
        await asyncio.sleep(0.01)
    assert await polos.cancel_execution(handle.id) is True
    with pytest.raises(ExecutionCancelledError):
        await handle.result(polos, timeout=10)
    assert (await polos.get_execution(handle.id)).status == "cancelled"
    # The thread finishes its function (threads cannot be interrupted); its
    # result goes nowhere and the pool keeps serving other steps.
    assert await plain_quick.run(polos, "after", timeout=10) == "polos-step"


# the pool itself, through call_function and a private pool ---------------------------
async def test_context_variables_reach_the_function_and_do_not_leak_back() -> None:
    def read_and_set() -> str:
        seen = REQUEST_ID.get()
        REQUEST_ID.set("changed-in-thread")
        return seen

    REQUEST_ID.set("request-42")
    assert await call_function(read_and_set, (), {}) == "request-42"
    assert REQUEST_ID.get() == "request-42"


async def test_exceptions_keep_their_type_and_traceback() -> None:
    with pytest.raises(ValueError, match="broken direct") as err:
        await call_function(broken, ("direct",), {})
    assert err.traceback[-1].name == "broken"


async def test_a_slow_function_is_answered_through_the_loop() -> None:
    pool = StepThreads(max_threads=2)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    try:
        assert await pool.call(time.sleep, (0.3,), {}) is None
        assert ticks >= 5, "the loop kept running while the function slept"
        # Seen slow once, it is not waited for synchronously again, and it
        # still answers; so do quick functions, through the same threads.
        assert await pool.call(time.sleep, (0.01,), {}) is None
        assert await pool.call(quick, ("pool",), {}) == "polos-step"
    finally:
        ticker.cancel()


async def test_more_slow_calls_than_threads_queue_and_all_finish() -> None:
    pool = StepThreads(max_threads=2)
    started = time.monotonic()
    results = await asyncio.gather(*(pool.call(lambda i=i: i, (), {}) for i in range(50)))
    assert results == list(range(50))
    sleeps = await asyncio.gather(*(pool.call(time.sleep, (0.05,), {}) for _ in range(4)))
    assert sleeps == [None] * 4
    assert time.monotonic() - started >= 0.1, "two threads ran four 50 ms sleeps in two waves"


async def test_a_cancelled_wait_leaves_the_pool_usable() -> None:
    pool = StepThreads(max_threads=1)
    task = asyncio.create_task(pool.call(time.sleep, (0.2,), {}))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pool.call(quick, ("after-cancel",), {}) == "polos-step"


def _child_runs_a_plain_function() -> None:
    result = asyncio.run(call_function(quick, ("child",), {}))
    os._exit(0 if result == "polos-step" else 3)


async def test_a_forked_child_gets_threads_of_its_own() -> None:
    # The parent's pool has threads (and idle ones counted) before the fork.
    assert await call_function(quick, ("parent",), {}) == "polos-step"
    child = multiprocessing.get_context("fork").Process(target=_child_runs_a_plain_function)
    child.start()
    await asyncio.to_thread(child.join, 20)
    assert child.exitcode == 0, "the child's plain function never ran (or failed)"
