"""Contract: waits, and everything that resolves them.

Methods: ``begin_wait``, ``wait_for_event``, ``fire_due_timers``,
``expire_deadlines``, ``next_timer_at``, ``list_waits``. A wait frees the
execution (``waiting``: no owner, no lease); whatever resolves it records the
waiting step's outcome and queues the execution again in one transaction, and
resolves it once.
"""

from __future__ import annotations

import asyncio

import orjson

from polos.store import Store

from .kit import T0, event, events_of, new_execution, running, step


async def test_a_timer_wait_parks_the_execution_and_frees_its_lease(store: Store) -> None:
    eid = (await running(store)).execution.id
    assert not await store.begin_wait(eid, 2, "nap", "timer", T0 + 60, T0 + 1), "fenced"
    assert await store.begin_wait(eid, 1, "nap", "timer", T0 + 60, T0 + 1, state='{"n": 1}')
    row = await store.get_execution(eid)
    assert row is not None
    assert (row.status, row.owner, row.lease_expires_at) == ("waiting", None, None)
    assert (row.wait_step_key, row.wait_kind, row.wake_at) == ("nap", "timer", T0 + 60)
    assert row.state == '{"n": 1}'
    assert await events_of(store, eid) == ["created", "claimed", "waiting"]
    assert await store.claim("w2", ["wf"], 1, T0 + 2, 30.0) == [], "a wait holds no slot"
    assert await store.requeue_expired_leases(T0 + 1000) == 0, "and no lease"
    assert not await store.begin_wait(eid, 1, "again", "timer", None, T0 + 2), "not running"


async def test_a_timer_fires_once_when_due_then_the_run_is_queued_again(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.begin_wait(eid, 1, "nap", "timer", T0 + 60, T0 + 1)
    assert await store.fire_due_timers(T0 + 59.9) == 0
    assert await store.fire_due_timers(T0 + 60) == 1
    assert await store.fire_due_timers(T0 + 61) == 0, "fired once"
    nap = await store.get_step(eid, "nap")
    assert nap is not None and (nap.kind, nap.output, nap.error, nap.attempt) == (
        "wait",
        "null",
        None,
        1,
    )
    row = await store.get_execution(eid)
    assert row is not None
    assert (row.status, row.wait_step_key, row.wait_kind, row.wake_at) == (
        "queued",
        None,
        None,
        None,
    )
    assert (await events_of(store, eid))[-1] == "resumed"
    [again] = await store.claim("w2", ["wf"], 1, T0 + 61, 30.0)
    assert again.execution.attempt == 2
    assert [s.step_key for s in again.steps] == ["nap"]


async def test_concurrent_timer_loops_resolve_a_wait_once(
    store: Store, stores: list[Store]
) -> None:
    ids = []
    for i in range(10):
        eid = (await running(store, f"wf{i}")).execution.id
        await store.begin_wait(eid, 1, "nap", "timer", T0 + 5, T0 + 1)
        ids.append(eid)
    fired = await asyncio.gather(*(s.fire_due_timers(T0 + 10) for s in stores))
    assert sum(fired) == 10
    for eid in ids:
        assert [s.step_key for s in await store.list_steps(eid)] == ["nap"]
        assert (await events_of(store, eid)).count("resumed") == 1


async def test_a_wait_without_a_wake_up_time_never_fires(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.begin_wait(eid, 1, "forever", "suspend", None, T0 + 1)
    assert await store.fire_due_timers(T0 + 10**6) == 0
    row = await store.get_execution(eid)
    assert row is not None and row.status == "waiting"


async def test_a_wait_for_an_event_already_published_takes_it_at_once(store: Store) -> None:
    claimed = await running(store)
    eid = claimed.execution.id
    [old] = await store.publish_events([event("orders", '{"n": 0}')], T0) or []
    [new] = await store.publish_events([event("orders", '{"n": 1}')], T0 + 1) or []
    result = await store.wait_for_event(
        eid, 1, "order", "event", "orders", old.seq, T0 + 60, None, T0 + 2
    )
    assert result.accepted and not result.parked and result.output is not None
    got = orjson.loads(result.output)
    assert (got["sequence_id"], got["data"], got["topic"]) == (new.seq, {"n": 1}, "orders")
    assert (got["id"], got["event_type"]) == (new.id, "test")
    recorded = await store.get_step(eid, "order")
    assert recorded is not None and recorded.output == result.output
    assert recorded.kind == "event"
    row = await store.get_execution(eid)
    assert row is not None and row.status == "running", "it goes on without parking"


async def test_a_wait_for_an_event_parks_until_one_after_its_cursor_is_published(
    store: Store,
) -> None:
    eid = (await running(store)).execution.id
    [before] = await store.publish_events([event("orders")], T0) or []
    result = await store.wait_for_event(
        eid, 1, "order", "event", "orders", before.seq, T0 + 60, None, T0 + 1, state='{"s": 1}'
    )
    assert result.accepted and result.parked and result.output is None
    row = await store.get_execution(eid)
    assert row is not None
    assert (row.status, row.wait_kind, row.wait_topic, row.wait_cursor) == (
        "waiting",
        "event",
        "orders",
        before.seq,
    )
    assert (row.wake_at, row.state) == (T0 + 60, '{"s": 1}')
    await store.publish_events([event("other-topic")], T0 + 2)
    row = await store.get_execution(eid)
    assert row is not None and row.status == "waiting"
    [match] = await store.publish_events([event("orders", '{"n": 7}')], T0 + 3) or []
    row = await store.get_execution(eid)
    assert row is not None and (row.status, row.wait_topic) == ("queued", None)
    recorded = await store.get_step(eid, "order")
    assert recorded is not None and recorded.kind == "event"
    assert orjson.loads(recorded.output or "")["sequence_id"] == match.seq
    assert orjson.loads(recorded.output or "")["data"] == {"n": 7}
    assert (await events_of(store, eid))[-1] == "resumed"
    await store.publish_events([event("orders")], T0 + 4)
    assert len(await store.list_steps(eid)) == 1, "resolved once"


async def test_one_event_resolves_every_waiter_on_its_topic(store: Store) -> None:
    ids = []
    for i in range(3):
        eid = (await running(store, f"wf{i}")).execution.id
        await store.wait_for_event(eid, 1, "go", "event", "start", 0, None, None, T0 + 1)
        ids.append(eid)
    await store.publish_events([event("start")], T0 + 2)
    for eid in ids:
        row = await store.get_execution(eid)
        assert row is not None and row.status == "queued"


async def test_a_stale_attempt_cannot_wait_for_an_event(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.publish_events([event("orders")], T0)
    refused = await store.wait_for_event(eid, 2, "o", "event", "orders", 0, None, None, T0 + 1)
    assert not refused.accepted and not refused.parked
    assert await store.list_steps(eid) == []


async def test_an_event_wait_that_times_out_records_a_timeout_error(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.wait_for_event(eid, 1, "order", "event", "orders", 0, T0 + 30, None, T0 + 1)
    assert await store.next_timer_at() == T0 + 30
    assert await store.fire_due_timers(T0 + 30) == 1
    recorded = await store.get_step(eid, "order")
    assert recorded is not None and recorded.output is None and recorded.kind == "event"
    error = orjson.loads(recorded.error or "")
    assert error["type"] == "WaitTimeoutError" and "order" in error["message"]
    row = await store.get_execution(eid)
    assert row is not None and row.status == "queued"
    await store.publish_events([event("orders")], T0 + 31)
    assert len(await store.list_steps(eid)) == 1, "a late event changes nothing"


async def test_suspends_are_listed_with_what_they_show(store: Store) -> None:
    a = (await running(store, "approve")).execution.id
    b = (await running(store, "review")).execution.id
    timer = (await running(store, "nap")).execution.id
    for eid in (a, b):
        await store.wait_for_event(
            eid, 1, "ok", "suspend", f"suspend/{eid}", 0, None, '{"form": 1}', T0 + 1
        )
    await store.begin_wait(timer, 1, "nap", "timer", T0 + 60, T0 + 1)
    assert {r.id for r in await store.list_waits("suspend")} == {a, b}
    [only] = await store.list_waits("suspend", workflow_id="review")
    assert (only.id, only.wait_kind, only.wait_step_key) == (b, "suspend", "ok")
    assert orjson.loads(only.wait_data or "") == {"form": 1}
    assert [r.id for r in await store.list_waits("timer")] == [timer]
    assert await store.list_waits("event") == []
    await store.publish_events([event(f"suspend/{a}")], T0 + 2)
    assert [r.id for r in await store.list_waits("suspend")] == [b]


async def test_the_next_timer_is_the_earliest_wake_up_deadline_or_schedule_tick(
    store: Store,
) -> None:
    from polos.store.records import ScheduleRow

    assert await store.next_timer_at() is None
    eid = (await running(store)).execution.id
    await store.begin_wait(eid, 1, "nap", "timer", T0 + 500, T0 + 1)
    assert await store.next_timer_at() == T0 + 500
    await running(store, "bounded", run_timeout_seconds=100.0)  # deadline T0 + 100.5
    assert await store.next_timer_at() == T0 + 100.5
    await store.upsert_schedule(
        ScheduleRow("s1", "cron", "k", "* * * * *", "UTC", T0 + 50, None, T0, T0)
    )
    assert await store.next_timer_at() == T0 + 50


async def test_a_run_past_its_deadline_fails_with_a_timeout_wherever_it_is(
    store: Store,
) -> None:
    running_one = (await running(store, "r", run_timeout_seconds=10.0)).execution.id
    waiting_one = (await running(store, "w", run_timeout_seconds=10.0)).execution.id
    await store.begin_wait(waiting_one, 1, "nap", "timer", T0 + 1000, T0 + 1)
    queued_again = (await running(store, "q", run_timeout_seconds=10.0)).execution.id
    await store.release_execution(queued_again, 1, T0 + 1)
    unbounded = (await running(store, "u")).execution.id
    never_started = new_execution("n", T0, run_timeout_seconds=1.0)
    await store.create_execution(never_started)

    assert await store.expire_deadlines(T0 + 10.4) == 0
    assert await store.expire_deadlines(T0 + 10.5) == 3
    assert await store.expire_deadlines(T0 + 11) == 0, "once"
    for eid in (running_one, waiting_one, queued_again):
        row = await store.get_execution(eid)
        assert row is not None and (row.status, row.owner, row.wait_kind) == ("failed", None, None)
        error = orjson.loads(row.error or "")
        assert error["type"] == "WorkflowTimeoutError" and "10" in error["message"]
        assert (await events_of(store, eid))[-1] == "timed_out"
    assert not await store.record_step(running_one, 1, step("late", 1)), "its worker is fenced"
    for eid in (unbounded, never_started.id):
        row = await store.get_execution(eid)
        assert row is not None and row.status in ("running", "queued")
