"""Wake-up latency and fan-out.

    .venv/bin/python bench/bench_events.py [--database-url URL] [--rounds 200]

1. ``events.publish`` -> the waiting run's next step starts (median, p99).
2. ``PolosClient.resume`` -> the suspended run's next step starts.
3. ``batch_invoke_and_wait`` of 1,000 trivial children: total time.

Publisher and worker share one process (``Polos``): the wake-up travels
through the store's in-process signal. Target (DESIGN.md): median <= 10 ms on
SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from polos import BatchWorkflowInput, EventData, Polos, WorkflowContext, events, workflow

WOKE: dict[str, float] = {}


def stamp(execution_id: str) -> None:
    WOKE[execution_id] = time.perf_counter()


@workflow(id="bench_event_waiter")
async def bench_event_waiter(ctx: WorkflowContext, input: dict[str, str]) -> None:
    await ctx.step.wait_for_event("wait", topic=input["topic"])
    await ctx.step.run("woke", stamp, ctx.execution_id)


@workflow(id="bench_suspender")
async def bench_suspender(ctx: WorkflowContext) -> None:
    await ctx.step.suspend("approval", data={"q": "ok?"})
    await ctx.step.run("woke", stamp, ctx.execution_id)


@workflow(id="bench_leaf")
async def bench_leaf(ctx: WorkflowContext, input: int) -> int:
    return input


@workflow(id="bench_fan_out")
async def bench_fan_out(ctx: WorkflowContext, input: int) -> int:
    items = [BatchWorkflowInput(id="bench_leaf", payload=i) for i in range(input)]
    results = await ctx.step.batch_invoke_and_wait("fan", items)
    return len(results)


async def _waiting(polos: Polos, execution_id: str) -> None:
    while (await polos.get_execution(execution_id)).status != "waiting":
        await asyncio.sleep(0.001)


async def measure_publish(polos: Polos, rounds: int) -> list[float]:
    latencies = []
    for i in range(rounds):
        handle = await bench_event_waiter.invoke(polos, {"topic": f"bench/{i}"})
        await _waiting(polos, handle.id)
        start = time.perf_counter()
        await events.publish(polos, f"bench/{i}", EventData(data=i))
        await handle.result(timeout=30)
        latencies.append(WOKE[handle.id] - start)
    return latencies


async def measure_resume(polos: Polos, rounds: int) -> list[float]:
    latencies = []
    for _ in range(rounds):
        handle = await bench_suspender.invoke(polos)
        await _waiting(polos, handle.id)
        start = time.perf_counter()
        await polos.resume("bench_suspender", handle.id, "approval", {"ok": True})
        await handle.result(timeout=30)
        latencies.append(WOKE[handle.id] - start)
    return latencies


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:<34} median {statistics.median(ms):7.2f} ms   p99 {p99:7.2f} ms   (n={len(ms)})"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--children", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        workflows = [bench_event_waiter, bench_suspender, bench_leaf, bench_fan_out]
        async with Polos(database_url=url, workflows=workflows, poll_interval=0.1) as polos:
            print(f"database: {polos.database_url}")
            print(summary("publish -> next step", await measure_publish(polos, args.rounds)))
            print(summary("resume -> next step", await measure_resume(polos, args.rounds)))
            start = time.perf_counter()
            count = await bench_fan_out.run(polos, args.children, timeout=600)
            elapsed = time.perf_counter() - start
            print(
                f"{'batch_invoke_and_wait fan-out':<34} {count} children in {elapsed:.2f} s "
                f"({count / elapsed:.0f} children/s)"
            )


if __name__ == "__main__":
    asyncio.run(main())
