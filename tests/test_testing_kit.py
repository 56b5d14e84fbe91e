"""polos.testing for users (issue 14, point 6): a fresh embedded Polos, a test
clock that drives durable sleeps and schedules at once, and step assertions.

The pytest fixtures (polos.testing.pytest_plugin) run for real in
tests/test_cli_scripting.py, through the project ``polos init`` writes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from polos import SchedulePayload, WorkflowContext, schedules, workflow
from polos.runtime.models import ExecutionInfo
from polos.testing import PolosTestKit, TestClock, assert_steps, step_keys

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC


@workflow(id="kit_slow_order")
async def kit_slow_order(ctx: WorkflowContext, input: dict) -> dict:
    await ctx.step.run("reserve", lambda: "reserved")
    await ctx.step.wait_for("cool_off", days=3)
    if input.get("charge", True):
        await ctx.step.run("charge", lambda: "charged")
    return {"at": await ctx.step.now("done_at")}


@workflow(id="kit_hourly")
async def kit_hourly(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return input.timestamp.isoformat()


@workflow(id="kit_daily", schedule="0 9 * * *")
async def kit_daily(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return input.timestamp.isoformat()


def test_the_clock_moves_only_when_told() -> None:
    clock = TestClock(START, tick=0)
    assert clock.now() == START.timestamp() == clock.now()
    assert clock.advance(days=3) == START.timestamp() + 3 * 86400
    assert clock.advance("2h") == START.timestamp() + 3 * 86400 + 7200
    assert clock.as_datetime() == datetime(2026, 1, 8, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set(START)
    ticking = TestClock(START)
    assert ticking.now() < ticking.now()  # a microsecond per reading: order is kept


async def test_a_three_day_sleep_passes_at_once() -> None:
    async with PolosTestKit(clock=TestClock(START), workflows=[kit_slow_order]) as kit:
        handle = await kit.polos.invoke(kit_slow_order, {})
        await kit.wait_for_status(handle.id, "waiting")
        await kit.assert_steps(handle.id, ["reserve"])

        began = time.monotonic()
        kit.clock.advance(days=3)
        result = await handle.result(timeout=10)
        assert time.monotonic() - began < 5  # three days, in well under a second here
        assert result["at"] >= (START.timestamp() + 3 * 86400) * 1000  # ctx.step.now: the clock's
        await kit.assert_steps(handle.id, ["reserve", "cool_off", "charge", "done_at"])
        await kit.assert_steps(handle.id, ["reserve", "charge"], exactly=False)

        skipped = await kit.polos.invoke(kit_slow_order, {"charge": False})
        await kit.wait_for_status(skipped.id, "waiting")
        kit.clock.advance(days=3)
        await kit.wait_for_status(skipped.id, "completed")
        await kit.assert_step_not_run(skipped.id, "charge")
        with pytest.raises(AssertionError, match=r"recorded steps \['reserve', 'cool_off'"):
            await assert_steps(kit.polos, skipped.id, ["reserve", "charge"])
        with pytest.raises(AssertionError, match="step 'reserve' ran"):
            await kit.assert_step_not_run(skipped.id, "reserve")
        with pytest.raises(AssertionError, match="is completed after"):
            await kit.wait_for_status(skipped.id, "waiting", timeout=0.1)
        assert await step_keys(kit.polos.client, skipped.id) == ["reserve", "cool_off", "done_at"]
    assert not kit.path.exists()  # its temporary database is gone


async def runs_of(kit: PolosTestKit, workflow_id: str, count: int) -> list[ExecutionInfo]:
    deadline = time.monotonic() + 10
    while True:
        runs = await kit.polos.list_executions(workflow_id=workflow_id)
        if len(runs) >= count and all(r.status == "completed" for r in runs):
            return runs
        assert time.monotonic() < deadline, f"{len(runs)} runs of {workflow_id}, not {count}"
        await asyncio.sleep(0.02)


async def test_schedules_tick_when_the_clock_says() -> None:
    async with PolosTestKit(clock=TestClock(START), workflows=[kit_daily]) as kit:
        await asyncio.sleep(0.2)
        assert await kit.polos.list_executions(workflow_id="kit_daily") == []  # 08:00: not yet
        kit.clock.advance(hours=1)  # 09:00: the first tick
        [first] = await runs_of(kit, "kit_daily", 1)
        assert first.result == "2026-01-05T09:00:00+00:00"
        kit.clock.advance(days=1)  # the next day's 09:00
        runs = await runs_of(kit, "kit_daily", 2)
        assert sorted(r.result for r in runs) == [
            "2026-01-05T09:00:00+00:00",
            "2026-01-06T09:00:00+00:00",
        ]


async def test_a_schedule_made_at_run_time_follows_the_test_clock() -> None:
    async with PolosTestKit(clock=TestClock(START), workflows=[kit_hourly]) as kit:
        await schedules.create(kit.polos, kit_hourly, "30 * * * *")  # first tick: 08:30
        kit.clock.advance(minutes=30)
        [run] = await runs_of(kit, "kit_hourly", 1)
        assert run.result == "2026-01-05T08:30:00+00:00"
