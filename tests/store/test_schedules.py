"""Contract: cron schedules, and ticks that fire exactly once.

Methods: ``upsert_schedule``, ``list_schedules``, ``delete_schedule``,
``due_schedules``, ``fire_schedule``. The store does no cron arithmetic: the
caller passes the next tick; ``fire_schedule`` is a compare-and-set on the
expected tick, so any number of schedulers fire each tick once.
"""

from __future__ import annotations

import asyncio

from polos.store import Store
from polos.store.records import ScheduleRow

from .kit import T0, new_execution


def schedule(
    schedule_id: str = "s1",
    workflow_id: str = "report",
    cron: str = "0 * * * *",
    next_fire_at: float = T0 + 3600,
    key: str = "default",
    at: float = T0,
) -> ScheduleRow:
    return ScheduleRow(schedule_id, workflow_id, key, cron, "UTC", next_fire_at, None, at, at)


async def test_upsert_creates_then_updates_and_an_unchanged_cron_keeps_its_tick(
    store: Store,
) -> None:
    created = await store.upsert_schedule(schedule())
    assert created == schedule()
    same = await store.upsert_schedule(schedule(next_fire_at=T0 + 7200, at=T0 + 10))
    assert (same.next_fire_at, same.updated_at, same.created_at) == (T0 + 3600, T0 + 10, T0)
    changed = await store.upsert_schedule(
        schedule(cron="30 * * * *", next_fire_at=T0 + 1800, at=T0 + 20)
    )
    assert (changed.cron, changed.next_fire_at, changed.updated_at) == (
        "30 * * * *",
        T0 + 1800,
        T0 + 20,
    )
    other_zone = schedule(cron="30 * * * *", next_fire_at=T0 + 900, at=T0 + 30)
    other_zone.timezone = "Europe/Paris"
    moved = await store.upsert_schedule(other_zone)
    assert (moved.timezone, moved.next_fire_at) == ("Europe/Paris", T0 + 900)
    assert await store.list_schedules() == [moved]


async def test_schedules_are_listed_by_workflow_and_key_and_deleted(store: Store) -> None:
    await store.upsert_schedule(schedule("s3", "b", key="x"))
    await store.upsert_schedule(schedule("s2", "a", key="y"))
    await store.upsert_schedule(schedule("s1", "a", key="x"))
    assert [s.schedule_id for s in await store.list_schedules()] == ["s1", "s2", "s3"]
    assert [s.schedule_id for s in await store.list_schedules("a")] == ["s1", "s2"]
    assert await store.list_schedules("nothing") == []
    assert await store.delete_schedule("s2")
    assert not await store.delete_schedule("s2")
    assert [s.schedule_id for s in await store.list_schedules()] == ["s1", "s3"]


async def test_due_schedules_are_those_whose_tick_has_come_earliest_first(store: Store) -> None:
    await store.upsert_schedule(schedule("late", next_fire_at=T0 + 30))
    await store.upsert_schedule(schedule("early", next_fire_at=T0 + 10))
    await store.upsert_schedule(schedule("future", next_fire_at=T0 + 100))
    assert await store.due_schedules(T0 + 5) == []
    assert [s.schedule_id for s in await store.due_schedules(T0 + 30)] == ["early", "late"]


async def test_a_tick_advances_the_schedule_and_starts_one_run(store: Store) -> None:
    await store.upsert_schedule(schedule(next_fire_at=T0 + 60))
    run = new_execution("report", T0 + 60, schedule_id="s1")
    assert not await store.fire_schedule("s1", T0 + 59, T0 + 120, T0 + 60, run, T0 + 61)
    assert await store.list_executions() == [], "a stale expectation starts nothing"
    assert await store.fire_schedule("s1", T0 + 60, T0 + 120, T0 + 60, run, T0 + 61)
    [s] = await store.list_schedules()
    assert (s.next_fire_at, s.last_fire_at, s.updated_at) == (T0 + 120, T0 + 60, T0 + 61)
    [row] = await store.list_executions()
    assert (row.id, row.status, row.schedule_id) == (run.id, "queued", "s1")
    assert not await store.fire_schedule("s1", T0 + 60, T0 + 120, T0 + 60, run, T0 + 62)
    assert not await store.fire_schedule("gone", T0 + 60, T0 + 120, T0 + 60, None, T0 + 62)


async def test_concurrent_schedulers_fire_each_tick_exactly_once(
    store: Store, stores: list[Store]
) -> None:
    await store.upsert_schedule(schedule(next_fire_at=T0 + 60))
    for tick in range(5):
        due = T0 + 60 * (tick + 1)
        outcomes = await asyncio.gather(
            *(
                s.fire_schedule(
                    "s1",
                    due,
                    due + 60,
                    due,
                    new_execution("report", due),
                    due,
                    skip_if_active=False,
                )
                for s in stores
            )
        )
        assert outcomes.count(True) == 1, outcomes
    runs = await store.list_executions()
    assert sorted(r.created_at for r in runs) == [T0 + 60 * (i + 1) for i in range(5)]


async def test_a_tick_is_skipped_while_the_previous_run_is_active(store: Store) -> None:
    await store.upsert_schedule(schedule(next_fire_at=T0 + 60))
    first = new_execution("report", T0 + 60, schedule_id="s1")
    assert await store.fire_schedule("s1", T0 + 60, T0 + 120, T0 + 60, first, T0 + 60)
    second = new_execution("report", T0 + 120, schedule_id="s1")
    assert await store.fire_schedule("s1", T0 + 120, T0 + 180, T0 + 120, second, T0 + 120)
    assert await store.get_execution(second.id) is None, "skipped: the first is still queued"
    [s] = await store.list_schedules()
    assert s.next_fire_at == T0 + 180, "the tick is consumed all the same"
    third = new_execution("report", T0 + 180, schedule_id="s1")
    assert await store.fire_schedule(
        "s1", T0 + 180, T0 + 240, T0 + 180, third, T0 + 180, skip_if_active=False
    )
    assert await store.get_execution(third.id) is not None
    # Once no run is active, a tick starts one again.
    await store.cancel_execution(first.id, T0 + 200)
    await store.cancel_execution(third.id, T0 + 200)
    fourth = new_execution("report", T0 + 240, schedule_id="s1")
    assert await store.fire_schedule("s1", T0 + 240, T0 + 300, T0 + 240, fourth, T0 + 240)
    assert await store.get_execution(fourth.id) is not None


async def test_a_tick_without_a_run_only_advances_the_schedule(store: Store) -> None:
    await store.upsert_schedule(schedule(next_fire_at=T0 + 60))
    assert await store.fire_schedule("s1", T0 + 60, T0 + 120, None, None, T0 + 61)
    [s] = await store.list_schedules()
    assert (s.next_fire_at, s.last_fire_at) == (T0 + 120, None)
    assert await store.list_executions() == []
