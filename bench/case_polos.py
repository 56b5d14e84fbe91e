"""Polos cases: sequential trivial steps, 3-step throughput, and replay without I/O.

Only the public API is used for the timed runs (``Polos``, ``@workflow``,
``ctx.step.run``). The replay case drives the engine directly, because a
workflow whose steps are already recorded cannot be started again through
the public API.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from _targets import Target, polos_url
from _timing import inner_runs, per_item
from polos import Polos, WorkflowContext, step, workflow
from polos.engine.clock import SYSTEM_CLOCK
from polos.engine.executor import execute
from polos.engine.run import ExecutionRun, current_run
from polos.store import Claimed, Store

_WARMUP_STEPS = 50
_REPLAY_REPEATS = 5


async def trivial(i: int) -> int:
    return i


def plain_trivial(i: int) -> int:
    return i


@step(inline=True)
def inline_trivial(i: int) -> int:
    return i


@workflow(id="bench_sequential")
async def sequential(ctx: WorkflowContext, n: int) -> int:
    for i in range(n):
        await ctx.step.run(f"step-{i}", trivial, i)
    return n


@workflow(id="bench_sequential_plain")
async def sequential_plain(ctx: WorkflowContext, n: int) -> int:
    for i in range(n):
        await ctx.step.run(f"step-{i}", plain_trivial, i)
    return n


@workflow(id="bench_sequential_inline")
async def sequential_inline(ctx: WorkflowContext, n: int) -> int:
    for i in range(n):
        await inline_trivial.with_key(f"step-{i}")(i)
    return n


@workflow(id="bench_three_steps")
async def three_steps(ctx: WorkflowContext, n: int) -> int:
    total = 0
    for i in range(3):
        total += await ctx.step.run(f"step-{i}", trivial, i)
    return total + n


async def polos_steps(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """Runs of a workflow of N sequential trivial ``async def`` steps; total / N."""
    return await _steps(target, params, sequential)


async def polos_steps_plain(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """The same with a plain ``def`` step: on a step thread, then on the loop once
    seen to be quick (the warm-up run's first calls; ``POLOS_STEP_AUTO_INLINE=0``
    measures the threads alone)."""
    return await _steps(target, params, sequential_plain)


async def polos_steps_inline(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """The same with a plain ``def`` step marked ``@step(inline=True)`` (run on the loop)."""
    return await _steps(target, params, sequential_inline)


async def _steps(target: Target, params: dict[str, Any], wf: Any) -> dict[str, Any]:
    """Runs of a workflow of N sequential trivial steps; total / N, nothing subtracted."""
    n = int(params["steps"])
    async with Polos(database_url=polos_url(target), workflows=[wf]) as polos:
        await wf.run(polos, _WARMUP_STEPS)
        totals = []
        for _ in range(inner_runs(params)):
            started = time.perf_counter()
            result = await wf.run(polos, n)
            totals.append(time.perf_counter() - started)
            assert result == n, result
    return per_item(totals, n, "per_step_us")


async def polos_throughput(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """Invoke M 3-step workflows on one embedded worker and wait for all of them."""
    m = int(params["workflows"])
    async with Polos(database_url=polos_url(target), workflows=[three_steps]) as polos:
        await three_steps.run(polos, 0)
        started = time.perf_counter()
        handles = [await three_steps.invoke(polos, i) for i in range(m)]
        results = [await polos.wait_for_result(handle.id) for handle in handles]
        total = time.perf_counter() - started
    assert results == [i + 3 for i in range(m)], results[:5]
    return {"workflows_per_s": m / total, "total_s": total}


async def polos_throughput_concurrent(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """M 3-step workflows submitted by ``callers`` concurrent callers (each its
    own ``invoke``, as many clients submitting at once would), run by this one
    process's embedded worker; M / wall time until every result is read."""
    m, callers = int(params["workflows"]), int(params.get("callers", 50))
    async with Polos(database_url=polos_url(target), workflows=[three_steps]) as polos:
        await three_steps.run(polos, 0)
        gate = asyncio.Semaphore(callers)

        async def one(i: int) -> int:
            async with gate:
                handle = await three_steps.invoke(polos, i)
            result: int = await polos.wait_for_result(handle.id)
            return result

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(m)))
        total = time.perf_counter() - started
    assert results == [i + 3 for i in range(m)], results[:5]
    return {"workflows_per_s": m / total, "total_s": total, "callers": callers}


class CountingStore:
    """Wraps a store and counts every method called on it (each one is I/O)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return value(*args, **kwargs)

        return counted


async def polos_replay(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """Record N steps, then replay them through the engine and count store calls."""
    n = int(params["steps"])
    async with Polos(database_url=polos_url(target), workflows=[sequential]) as polos:
        handle = await sequential.invoke(polos, n)
        await polos.wait_for_result(handle.id)
        store = polos.client.store
        row = await store.get_execution(handle.id)
        steps = await store.list_steps(handle.id)
        assert row is not None and len(steps) == n, (row, len(steps))

        def new_run() -> tuple[ExecutionRun, CountingStore]:
            counting = CountingStore(store)
            claimed = Claimed(row, list(steps))
            run = ExecutionRun(
                cast(Store, counting), claimed, sequential, clock=SYSTEM_CLOCK, worker_id="bench"
            )
            return run, counting

        times, replay_calls = await _time_replays(new_run, n)
        run, counting = new_run()
        await execute(run)  # a whole attempt: replays every step, then completes (fenced)
    return {
        "per_step_us": statistics.median(times) / n * 1e6,
        "best_per_step_us": min(times) / n * 1e6,
        "store_calls_during_replay": sum(replay_calls.values()),
        "store_calls_of_full_attempt": dict(counting.calls),
    }


async def _time_replays(
    new_run: Callable[[], tuple[ExecutionRun, CountingStore]], n: int
) -> tuple[list[float], Counter[str]]:
    """Call the workflow function on fully recorded runs; no store call may happen."""
    times: list[float] = []
    calls: Counter[str] = Counter()
    for _ in range(_REPLAY_REPEATS):
        run, counting = new_run()
        token = current_run.set(run)
        try:
            started = time.perf_counter()
            result = await sequential.fn(WorkflowContext(run), n)
            times.append(time.perf_counter() - started)
        finally:
            current_run.reset(token)
        assert result == n, result
        calls.update(counting.calls)
    if calls:
        raise AssertionError(f"replay touched the store: {dict(calls)}")
    return times, calls
