"""Contract: a store wakes this process's waiters right after it commits.

Every ``Store`` has a ``hub`` (:mod:`polos.store.hub`), shared by every store
object on the same database in this process. Workers sleep on it between
polls, clients wait on it for results; so each transition fires the matching
signal as soon as its transaction commits, before the method returns (the
PostgreSQL backend also relays other processes' transitions from NOTIFY, but
a store must not rely on that for its own). A missing signal costs latency
only, which is why nothing else would catch it.
"""

from __future__ import annotations

import asyncio

from polos.store import Store, WorkerRow
from polos.store.records import ScheduleRow

from .kit import T0, children, claim_all, event, new_execution, running


async def finished_now(store: Store, fut: asyncio.Future[None]) -> bool:
    await asyncio.sleep(0)  # the hub resolves futures with call_soon
    await asyncio.sleep(0)
    return fut.done()


async def test_queued_work_wakes_workers(store: Store) -> None:
    woken = store.hub.work_event()
    await store.create_execution(new_execution())
    assert woken.is_set(), "create_execution"

    woken = store.hub.work_event()
    await store.create_executions([new_execution("other")])
    assert woken.is_set(), "create_executions"

    eid = (await running(store, "r")).execution.id
    woken = store.hub.work_event()
    assert await store.release_execution(eid, 1, T0 + 1)
    assert woken.is_set(), "release_execution"

    await store.claim("w1", ["r"], 1, T0 + 2, 1.0)
    woken = store.hub.work_event()
    assert await store.requeue_expired_leases(T0 + 10) == 1
    assert woken.is_set(), "requeue_expired_leases"

    await store.register_worker(WorkerRow("dead", "h", 1, T0, T0))
    await store.claim("dead", ["r"], 1, T0 + 11, 30.0)
    woken = store.hub.work_event()
    assert await store.requeue_worker("dead", T0 + 12) == 1
    assert woken.is_set(), "requeue_worker"


async def test_resolved_waits_wake_workers(store: Store) -> None:
    timer = (await running(store, "t")).execution.id
    await store.begin_wait(timer, 1, "nap", "timer", T0 + 5, T0 + 1)
    woken = store.hub.work_event()
    assert await store.fire_due_timers(T0 + 5) == 1
    assert woken.is_set(), "fire_due_timers"

    waiter = (await running(store, "e")).execution.id
    await store.wait_for_event(waiter, 1, "go", "event", "topic", 0, None, None, T0 + 1)
    woken, published = store.hub.work_event(), store.hub.events_event()
    await store.publish_events([event("topic")], T0 + 2)
    assert woken.is_set(), "publish_events resolving a wait"
    assert published.is_set(), "publish_events"


async def test_new_wake_up_times_wake_the_timer_loop(store: Store) -> None:
    eid = (await running(store)).execution.id
    timers = store.hub.timer_event()
    await store.begin_wait(eid, 1, "nap", "timer", T0 + 60, T0 + 1)
    assert timers.is_set(), "begin_wait with a wake-up time"

    other = (await running(store, "e")).execution.id
    timers = store.hub.timer_event()
    await store.wait_for_event(other, 1, "go", "event", "t", 0, T0 + 60, None, T0 + 1)
    assert timers.is_set(), "wait_for_event with a timeout"

    timers = store.hub.timer_event()
    await store.upsert_schedule(ScheduleRow("s", "wf", "k", "* * * * *", "UTC", T0, None, T0, T0))
    assert timers.is_set(), "upsert_schedule"


async def test_finished_executions_wake_whoever_waits_for_them(store: Store) -> None:
    done = (await running(store, "a")).execution.id
    fut = store.hub.finished_future(done)
    await store.complete_execution(done, 1, "null", T0 + 1)
    assert await finished_now(store, fut), "complete_execution"

    failed = (await running(store, "b")).execution.id
    fut = store.hub.finished_future(failed)
    await store.fail_execution(failed, 1, "{}", T0 + 1)
    assert await finished_now(store, fut), "fail_execution"

    late = (await running(store, "c", run_timeout_seconds=1.0)).execution.id
    fut = store.hub.finished_future(late)
    assert await store.expire_deadlines(T0 + 5) == 1
    assert await finished_now(store, fut), "expire_deadlines"


async def test_cancellations_reach_the_listeners_and_the_waiters(store: Store) -> None:
    eid = (await running(store)).execution.id
    heard: list[str] = []
    forget = store.hub.on_cancel(heard.append)
    try:
        fut = store.hub.finished_future(eid)
        await store.cancel_execution(eid, T0 + 1)
        assert eid in heard, "cancel_execution tells the worker running it"
        assert await finished_now(store, fut)
    finally:
        forget()


async def test_started_and_ended_children_wake_workers(store: Store) -> None:
    parent = await running(store, "parent")
    [kid] = children(parent, "one", 1)
    woken = store.hub.work_event()
    await store.start_children(
        parent.execution.id, 1, "one", [kid], wait=True, output=None, now=T0 + 1
    )
    assert woken.is_set(), "start_children"
    await claim_all(store, "kid")
    woken = store.hub.work_event()
    await store.complete_execution(kid.id, 1, "null", T0 + 3)
    assert woken.is_set(), "the last child's ending queues its parent"


async def test_fired_schedules_and_triggers_wake_workers(store: Store) -> None:
    await store.upsert_schedule(ScheduleRow("s", "wf", "k", "* * * * *", "UTC", T0, None, T0, T0))
    woken = store.hub.work_event()
    assert await store.fire_schedule("s", T0, T0 + 60, T0, new_execution(), T0)
    assert woken.is_set(), "fire_schedule"

    await store.upsert_trigger("onboard", "signup", 1, None, T0)
    woken = store.hub.work_event()
    assert await store.fire_trigger("onboard", "signup", 0, 1, [new_execution("onboard")], T0)
    assert woken.is_set(), "fire_trigger"


async def test_a_completion_keeps_a_short_result_for_this_processs_waiters(store: Store) -> None:
    done = (await running(store, "short")).execution.id
    assert store.hub.completed_result(done) is None
    fut = store.hub.finished_future(done)
    assert await store.complete_execution(done, 1, '{"ok": 1}', T0 + 1)
    assert await finished_now(store, fut), "the waiter is still woken"
    assert store.hub.completed_result(done) == '{"ok": 1}'

    failed = (await running(store, "failing")).execution.id
    assert await store.fail_execution(failed, 1, '{"message": "no"}', T0 + 1)
    assert store.hub.completed_result(failed) is None, "only completed runs (never retried)"

    big = (await running(store, "big")).execution.id
    assert await store.complete_execution(big, 1, '"' + "x" * 5000 + '"', T0 + 1)
    assert store.hub.completed_result(big) is None, "a long result is read back instead"

    fenced = (await running(store, "fenced")).execution.id
    assert not await store.complete_execution(fenced, 2, '"zombie"', T0 + 1)
    assert store.hub.completed_result(fenced) is None, "a refused completion keeps nothing"
