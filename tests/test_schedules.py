"""Cron schedules: create/update/list/delete, ticks fire once, catch-up, bad input."""

from __future__ import annotations

import asyncio
import time

import pytest

from polos import (
    Polos,
    SchedulePayload,
    WorkflowContext,
    WorkflowDefinitionError,
    schedules,
    workflow,
)
from polos.engine.schedules import fire_due_schedules
from polos.store import store_from_url

TICKS: list[SchedulePayload] = []


@workflow(
    id="sched_every_second", schedule={"cron": "* * * * * *", "timezone": "UTC", "key": "fast"}
)
async def sched_every_second(ctx: WorkflowContext, input: SchedulePayload) -> str:
    TICKS.append(input)
    return input.schedule_id


async def test_seconds_schedule_fires_each_tick_once_with_two_workers(database_url: str) -> None:
    TICKS.clear()
    async with (
        Polos(database_url=database_url, workflows=[sched_every_second]) as one,
        Polos(database_url=database_url, workflows=[sched_every_second]),
    ):
        await asyncio.sleep(3.2)
        listed = await schedules.list(one, "sched_every_second")
    stamps = [t.timestamp for t in TICKS]
    assert len(stamps) >= 2
    assert len(stamps) == len(set(stamps)), "a tick fired twice"
    assert [s.schedule_id for s in listed] == ["sched_every_second:fast"]
    first = TICKS[0]
    assert (first.key, first.timezone) == ("fast", "UTC")
    assert first.upcoming is not None and first.upcoming > first.timestamp


@workflow(id="sched_target")
async def sched_target(ctx: WorkflowContext, input: SchedulePayload) -> int:
    return input.missed_ticks


async def test_create_update_list_delete_and_catch_up(database_url: str) -> None:
    store = store_from_url(database_url)
    await store.open()
    try:
        async with Polos(database_url=database_url, worker=False) as client:
            schedule_id = await schedules.create(
                client, sched_target, "0 9 * * *", timezone="Europe/Paris", key="k1"
            )
            assert schedule_id == "sched_target:k1"
            info = await schedules.get(client, sched_target, key="k1")
            assert info is not None and info.timezone == "Europe/Paris"
            assert info.next_fire_at.astimezone().timestamp() > time.time()
            again = await schedules.create(client, "sched_target", "*/5 * * * *", key="k1")
            assert again == schedule_id
            updated = await schedules.get(client, "sched_target", key="k1")
            assert updated is not None
            assert (updated.cron, updated.timezone) == ("*/5 * * * *", "UTC")
            assert len(await schedules.list(client, sched_target)) == 1

            # Pretend nothing ran for an hour: only the latest missed tick fires.
            due = updated.next_fire_at.timestamp()
            fired = await fire_due_schedules(store, due + 3600)
            assert fired == 1
            assert await fire_due_schedules(store, due + 3600) == 0  # exactly once
            [run] = await client.list_executions(workflow_id="sched_target")
            assert run.status == "queued"
            assert await schedules.delete(client, sched_target, key="k1") is True
            assert await schedules.delete(client, sched_target, key="k1") is False
        async with Polos(database_url=database_url, workflows=[sched_target]) as polos:
            assert (
                await polos.wait_for_result(run.id, timeout=10) == 12
            )  # 13 ticks in the hour, 12 skipped
    finally:
        await store.close()


def test_bad_cron_and_timezone_fail_at_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match="malformed cron"):

        @workflow(id="sched_bad_cron", schedule="every day at nine")
        async def bad_cron(ctx: WorkflowContext) -> None: ...

    with pytest.raises(WorkflowDefinitionError, match="unknown timezone"):

        @workflow(id="sched_bad_tz", schedule={"cron": "0 9 * * *", "timezone": "Mars/Olympus"})
        async def bad_tz(ctx: WorkflowContext) -> None: ...
