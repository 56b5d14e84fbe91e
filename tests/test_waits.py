"""Waiting frees the worker: 1,000 sleeping runs on 10 slots all finish."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from polos import Polos, WorkflowContext, workflow

ENTERED: list[float] = []
FINISHED: list[float] = []


@workflow(id="waits_sleeper")
async def waits_sleeper(ctx: WorkflowContext) -> str:
    if ctx.attempt == 1:
        ENTERED.append(time.monotonic())
    await ctx.step.wait_for("nap", seconds=0.3)
    FINISHED.append(time.monotonic())
    return "done"


async def test_thousand_waits_on_ten_slots(database_url: str) -> None:
    ENTERED.clear()
    FINISHED.clear()
    async with Polos(
        database_url=database_url,
        workflows=[waits_sleeper],
        max_concurrent_workflows=10,
        poll_interval=0.05,
    ) as polos:
        handles = [await polos.invoke(waits_sleeper) for _ in range(1000)]
        results = [await h.result(polos, timeout=120) for h in handles]
    assert results == ["done"] * 1000
    # Had a wait held its slot, at most 10 runs could have entered it before the first finished.
    first_done = min(FINISHED)
    assert sum(1 for t in ENTERED if t < first_done) > 10


@workflow(id="waits_until")
async def waits_until(ctx: WorkflowContext, input: dict[str, str]) -> float:
    await ctx.step.wait_until("until", datetime.fromisoformat(input["at"]))
    return time.time()


async def test_wait_until_fires_at_the_time(polos: Polos) -> None:
    at = datetime.now(UTC) + timedelta(seconds=0.5)
    woke = await waits_until.run(polos, {"at": at.isoformat()}, timeout=10)
    assert woke >= at.timestamp()
    assert woke - at.timestamp() < 1.5
