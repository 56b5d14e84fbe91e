"""Adaptive inline: a plain (``def``) step seen to be quick runs on the event loop.

Each test has step functions of its own: what the pool learns about a
function (by its code object) lasts for the whole test process. Where a call
ran is told by ``threading.get_ident()`` inside the function, against the
thread of the event loop (the test's own, which runs the embedded worker).
Nothing is timed for speed; the sleeps only make one call slow or make one
run's step outlast another run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from polos import Polos, WorkflowContext, WorkflowFailedError, step, workflow
from polos.engine import step_threads
from polos.engine.step_threads import FORGIVE_AFTER, MAX_STRIKES, PROMOTE_AFTER

EVENTS: list[str] = []
SLOW_ARGS: set[int] = set()
CALLED_ON: list[int] = []


# (1) a trivial function used many times --------------------------------------------
def tick(i: int) -> int:
    return threading.get_ident()


@workflow(id="auto_inline_ticks")
async def ticks(ctx: WorkflowContext, n: int) -> dict[str, Any]:
    idents = [await ctx.step.run(f"s{i}", tick, i) for i in range(n)]
    return {"loop": threading.get_ident(), "idents": idents}


# (2) a sleeping function, and another run's steps meanwhile --------------------------
def nap(seconds: float) -> int:
    EVENTS.append("nap-start")
    time.sleep(seconds)
    EVENTS.append("nap-end")
    return threading.get_ident()


def hop(i: int) -> int:
    EVENTS.append("hop")
    return threading.get_ident()


@workflow(id="auto_inline_naps")
async def naps(ctx: WorkflowContext, seconds: list[float]) -> dict[str, Any]:
    idents = [await ctx.step.run(f"nap{i}", nap, s) for i, s in enumerate(seconds)]
    return {"loop": threading.get_ident(), "idents": idents}


@workflow(id="auto_inline_hops")
async def hops(ctx: WorkflowContext, n: int) -> dict[str, Any]:
    idents = [await ctx.step.run(f"hop{i}", hop, i) for i in range(n)]
    return {"loop": threading.get_ident(), "idents": idents}


# (3) quick many times, then slow once -------------------------------------------------
def sometimes_slow(i: int) -> int:
    if i in SLOW_ARGS:
        time.sleep(0.05)
    return threading.get_ident()


def turns_slow(i: int) -> int:
    if i in SLOW_ARGS:
        time.sleep(0.05)
    return threading.get_ident()


def forgiven(i: int) -> int:
    if i in SLOW_ARGS:
        time.sleep(0.05)
    return threading.get_ident()


@workflow(id="auto_inline_forgiven")
async def forgiving(ctx: WorkflowContext, args: list[int]) -> dict[str, Any]:
    idents = [await ctx.step.run(f"s{k}", forgiven, i) for k, i in enumerate(args)]
    return {"loop": threading.get_ident(), "idents": idents}


@workflow(id="auto_inline_sometimes_slow")
async def sometimes(ctx: WorkflowContext, args: list[int]) -> dict[str, Any]:
    idents = [await ctx.step.run(f"s{k}", sometimes_slow, i) for k, i in enumerate(args)]
    return {"loop": threading.get_ident(), "idents": idents}


@workflow(id="auto_inline_turns_slow")
async def turning(ctx: WorkflowContext, args: list[int]) -> dict[str, Any]:
    idents = [await ctx.step.run(f"s{k}", turns_slow, i) for k, i in enumerate(args)]
    return {"loop": threading.get_ident(), "idents": idents}


# (4) explicit threads ----------------------------------------------------------------
@step(inline=False)
def pinned(i: int) -> int:
    return threading.get_ident()


@workflow(id="auto_inline_pinned")
async def pinned_steps(ctx: WorkflowContext, n: int) -> dict[str, Any]:
    idents = [await pinned.with_key(f"s{i}")(i) for i in range(n)]
    return {"loop": threading.get_ident(), "idents": idents}


# (5) exceptions --------------------------------------------------------------------
def checked(tag: str) -> int:
    CALLED_ON.append(threading.get_ident())
    if tag == "bad":
        raise ValueError("rejected")
    return threading.get_ident()


@step(inline=False, max_retries=0)
def checked_in_thread(tag: str) -> int:
    raise ValueError("rejected")


def flaky(tag: str) -> int:
    CALLED_ON.append(threading.get_ident())
    if tag == "flaky" and len(CALLED_ON) == 1:
        raise ValueError("first attempt fails")
    return threading.get_ident()


@workflow(id="auto_inline_checked")
async def checked_steps(ctx: WorkflowContext, tags: list[str]) -> list[int]:
    for i, tag in enumerate(tags[:-1]):
        await ctx.step.run(f"s{i}", checked, tag)
    CALLED_ON.clear()
    return [await ctx.step.run("last", checked, tags[-1], max_retries=0)]


@workflow(id="auto_inline_checked_thread")
async def checked_thread_steps(ctx: WorkflowContext) -> int:
    result: int = await checked_in_thread.with_key("last")("bad")
    return result


@workflow(id="auto_inline_flaky")
async def flaky_steps(ctx: WorkflowContext, warmups: int) -> int:
    for i in range(warmups):
        await ctx.step.run(f"s{i}", flaky, "ok")
    CALLED_ON.clear()
    result: int = await ctx.step.run("flaky", flaky, "flaky", max_retries=1, base_delay=0.01)
    return result


@pytest.fixture(autouse=True)
def _thresholds_for_a_busy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen what counts as quick and as slow, keeping their order.

    With the shipped 0.1 ms and 0.5 ms, a trivial call preempted once on a
    loaded CI machine breaks a streak of quick calls (or even bars the
    function), and an assertion about where the last call ran fails for
    reasons of the machine. The slow calls here sleep 50 ms, far beyond both.
    """
    monkeypatch.setattr(step_threads, "FAST_S", 0.005)
    monkeypatch.setattr(step_threads, "SYNC_WAIT_S", 0.02)


@pytest.fixture
async def polos(sqlite_url: str) -> AsyncIterator[Polos]:
    p = Polos(
        database_url=sqlite_url,
        workflows=[
            ticks,
            naps,
            hops,
            sometimes,
            turning,
            forgiving,
            pinned_steps,
            checked_steps,
            checked_thread_steps,
            flaky_steps,
        ],
        hold_seconds=0,
        poll_interval=0.05,
        shutdown_grace_seconds=2.0,
    )
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def test_a_quick_plain_step_ends_up_on_the_loop_thread(polos: Polos) -> None:
    result = await ticks.run(polos, 100, timeout=30)
    loop, idents = result["loop"], result["idents"]
    assert idents[0] != loop, "a new function starts on a step thread"
    assert loop in idents, "100 trivial calls and the function never ran on the loop"
    first = idents.index(loop)
    assert first >= PROMOTE_AFTER, "promoted before enough quick calls in a thread"
    assert idents[first:] == [loop] * (len(idents) - first), "once promoted, it stays"


async def test_a_sleeping_step_never_runs_inline_and_other_runs_go_on(polos: Polos) -> None:
    EVENTS.clear()
    sleeper = await naps.invoke(polos, [1.0])
    while "nap-start" not in EVENTS:  # the sleep is under way in its thread
        await asyncio.sleep(0.01)
    quick = await hops.run(polos, 40, timeout=30)
    assert "nap-end" not in EVENTS, "the other run's 40 steps all finished during the sleep"
    # ... and some of them on the loop itself: the loop was free all along.
    assert quick["idents"][-1] == quick["loop"]
    slept = await sleeper.result(timeout=30)
    assert slept["idents"] == [slept["idents"][0]] and slept["idents"][0] != slept["loop"]
    assert EVENTS[0] == "nap-start" and EVENTS[-1] == "nap-end"
    assert EVENTS.count("hop") == 40
    # Seen slow once, it never moves to the loop, however quick its later calls.
    again = await naps.run(polos, [0.0] * 30, timeout=30)
    assert again["loop"] not in again["idents"]


async def test_a_promoted_function_slow_on_the_loop_goes_back_to_threads(polos: Polos) -> None:
    SLOW_ARGS.clear()
    SLOW_ARGS.add(-1)
    result = await sometimes.run(polos, [*range(30), -1, *range(40)], timeout=30)
    loop, idents = result["loop"], result["idents"]
    assert idents[29] == loop, "30 quick calls promoted the function"
    assert idents[30] == loop, "the slow call ran inline: it held the loop this once"
    # A strike: back on the threads until twice as long a run of quick calls.
    need = PROMOTE_AFTER << 1
    assert loop not in idents[31 : 31 + need]
    assert idents[-1] == loop, "earned its place on the loop again"
    for strike in range(2, MAX_STRIKES + 1):
        result = await sometimes.run(polos, [-1, *range(80)], timeout=30)
        loop, idents = result["loop"], result["idents"]
        assert idents[0] == loop, f"strike {strike}: the slow call ran inline"
        if strike < MAX_STRIKES:
            assert loop not in idents[1 : 1 + (PROMOTE_AFTER << strike)]
            assert idents[-1] == loop, f"back on the loop after strike {strike}"
        else:
            assert loop not in idents[1:], "the last strike keeps it on the threads"


async def test_a_promoted_function_that_stays_slow_holds_the_loop_once(polos: Polos) -> None:
    SLOW_ARGS.clear()
    SLOW_ARGS.add(-1)
    # Inline and slow (a strike), then slow again in a thread: barred for good.
    result = await turning.run(polos, [*range(30), -1, -1, *range(80)], timeout=30)
    loop, idents = result["loop"], result["idents"]
    assert idents[29] == loop and idents[30] == loop
    assert loop not in idents[31:], "seen slow in a thread after the strike: never inline again"


async def test_many_quick_inline_calls_forgive_a_strike(polos: Polos) -> None:
    SLOW_ARGS.clear()
    SLOW_ARGS.add(-1)
    once = PROMOTE_AFTER << 1  # the streak needed after one strike
    quick = list(range(once + 2 + FORGIVE_AFTER))
    result = await forgiving.run(polos, [*range(30), -1, *quick, -1, *range(once + 4)], timeout=60)
    loop, idents = result["loop"], result["idents"]
    assert idents[30] == loop, "the first slow call ran inline (strike 1)"
    second = 31 + len(quick)
    assert idents[second] == loop, "the second slow call ran inline too"
    after = idents[second + 1 :]
    # Forgiven: this is strike 1 again, not 2, so the short streak brings it back.
    assert loop not in after[:once]
    assert after[-1] == loop, "one strike forgiven: back after the one-strike streak"


async def test_inline_false_always_runs_on_a_thread(polos: Polos) -> None:
    result = await pinned_steps.run(polos, 40, timeout=30)
    assert result["loop"] not in result["idents"]


_ENV_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading
    from polos import Polos, WorkflowContext, workflow

    def tock(i):
        return threading.get_ident()

    @workflow(id="env_tocks")
    async def tocks(ctx: WorkflowContext, n: int) -> dict:
        idents = [await ctx.step.run(f"s{i}", tock, i) for i in range(n)]
        return {"loop": threading.get_ident(), "idents": idents}

    async def main() -> None:
        async with Polos(database_url=sys.argv[1], workflows=[tocks]) as polos:
            result = await tocks.run(polos, 60, timeout=30)
        print("on-loop", result["idents"].count(result["loop"]))

    asyncio.run(main())
    """
)


async def _on_loop_count(tmp_path: Path, name: str, auto_inline: str | None) -> int:
    script = tmp_path / "tocks.py"
    script.write_text(_ENV_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "POLOS_STEP_AUTO_INLINE"}
    if auto_inline is not None:
        env["POLOS_STEP_AUTO_INLINE"] = auto_inline
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        f"sqlite:///{tmp_path}/{name}.db",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return int(out.decode().split("on-loop", 1)[1].split()[0])


async def test_the_environment_switch_keeps_every_function_on_threads(tmp_path: Path) -> None:
    assert await _on_loop_count(tmp_path, "off", "0") == 0
    # The same process without the switch does move the function to the loop.
    assert await _on_loop_count(tmp_path, "on", None) > 0


async def test_an_exception_from_an_inline_call_is_recorded_as_from_a_thread(
    polos: Polos,
) -> None:
    inline_run = await checked_steps.invoke(polos, ["ok"] * 30 + ["bad"])
    with pytest.raises(WorkflowFailedError) as inline_err:
        await inline_run.result(timeout=30)
    loop = threading.get_ident()
    assert len(CALLED_ON) == 1 and CALLED_ON[0] == loop, "the failing call ran on the loop"
    thread_run = await checked_thread_steps.invoke(polos)
    with pytest.raises(WorkflowFailedError) as thread_err:
        await thread_run.result(timeout=30)
    assert inline_err.value.error["type"] == thread_err.value.error["type"]
    assert inline_err.value.error["message"] == thread_err.value.error["message"]
    inline_steps = (await polos.get_execution(inline_run.id)).steps
    thread_steps = (await polos.get_execution(thread_run.id)).steps
    inline_last = next(s for s in inline_steps if s.step_key == "last")
    thread_last = next(s for s in thread_steps if s.step_key == "last")
    assert inline_last.error == thread_last.error
    assert inline_last.error is not None and inline_last.error["message"] == "rejected"


async def test_the_retry_of_a_failed_inline_call_runs_in_a_thread(polos: Polos) -> None:
    CALLED_ON.clear()
    result = await flaky_steps.run(polos, 30, timeout=30)
    loop = threading.get_ident()
    assert CALLED_ON[0] == loop, "the first attempt ran inline and failed"
    assert len(CALLED_ON) == 2 and CALLED_ON[1] != loop, "the retry ran in a thread"
    assert result == CALLED_ON[1]
