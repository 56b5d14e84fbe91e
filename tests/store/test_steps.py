"""Contract: recording steps (fenced), reading them, and the history.

Methods: ``record_step``, ``get_step``, ``list_steps``, ``add_history``,
``list_history``. A step record carries the attempt that wrote it and is
refused (``False``, nothing written) unless that attempt owns the running
execution: a zombie worker can never record a step.
"""

from __future__ import annotations

import contextlib

import orjson

from polos.store import Store

from .kit import T0, new_execution, running, step


async def test_a_recorded_step_reads_back_as_written(store: Store) -> None:
    eid = (await running(store)).execution.id
    row = step("charge", 1, '{"paid": true}', at=T0 + 2, state='{"total": 3}')
    row.name = "charge_card"
    assert await store.record_step(eid, 1, row)
    got = await store.get_step(eid, "charge")
    assert got is not None
    assert (got.step_key, got.kind, got.name, got.error, got.attempt) == (
        "charge",
        "run",
        "charge_card",
        None,
        1,
    )
    assert orjson.loads(got.output or "") == {"paid": True}
    assert (got.created_at, got.execution_id, got.state) == (T0 + 2, eid, '{"total": 3}')
    assert got.started_at is None  # not given: unknown
    assert await store.get_step(eid, "other") is None


async def test_a_step_keeps_when_it_began_through_reads_and_claims(store: Store) -> None:
    run = await running(store, "timed")
    eid = run.execution.id
    assert await store.record_step(eid, 1, step("slow", 1, at=T0 + 5, started_at=T0 + 1.5))
    got = await store.get_step(eid, "slow")
    assert got is not None and (got.started_at, got.created_at) == (T0 + 1.5, T0 + 5)
    assert [s.started_at for s in await store.list_steps(eid)] == [T0 + 1.5]
    # A claim after a requeue loads the steps with it, started_at included.
    await store.requeue_worker(run.execution.owner or "", T0 + 6)
    [claimed] = await store.claim("w2", ["timed"], 1, T0 + 7, 30)
    assert [(s.step_key, s.started_at) for s in claimed.steps] == [("slow", T0 + 1.5)]


async def test_a_failed_step_keeps_its_error_and_no_output(store: Store) -> None:
    eid = (await running(store)).execution.id
    failed = step("flaky", 1)
    failed.output, failed.error = None, '{"type": "ValueError", "message": "no"}'
    assert await store.record_step(eid, 1, failed)
    got = await store.get_step(eid, "flaky")
    assert got is not None and got.output is None
    assert orjson.loads(got.error or "") == {"type": "ValueError", "message": "no"}


async def test_steps_are_listed_in_the_order_they_were_recorded(store: Store) -> None:
    eid = (await running(store)).execution.id
    for i, key in enumerate(["z", "a", "m"]):
        assert await store.record_step(eid, 1, step(key, 1, at=T0 + 1 + i))
    assert [s.step_key for s in await store.list_steps(eid)] == ["z", "a", "m"]
    other = (await running(store, "other")).execution.id
    assert await store.list_steps(other) == [], "steps belong to their execution"


async def test_a_step_record_is_never_overwritten(store: Store) -> None:
    eid = (await running(store)).execution.id
    assert await store.record_step(eid, 1, step("a", 1, '"first"'))
    # The engine never records a key twice (DuplicateStepKeyError); a store may
    # answer True (PostgreSQL: the same attempt resending a write whose reply was
    # lost), False or raise, but the first record stays.
    with contextlib.suppress(Exception):
        await store.record_step(eid, 1, step("a", 1, '"second"'))
    got = await store.get_step(eid, "a")
    assert got is not None and got.output == '"first"'
    assert len(await store.list_steps(eid)) == 1


async def test_a_stale_attempt_records_nothing(store: Store) -> None:
    eid = (await running(store)).execution.id
    assert await store.requeue_expired_leases(T0 + 100) == 1
    assert not await store.record_step(eid, 1, step("a", 1)), "queued: nobody owns it"
    [again] = await store.claim("w2", ["wf"], 1, T0 + 100, 30.0)
    assert again.execution.attempt == 2
    assert not await store.record_step(eid, 1, step("a", 1)), "attempt 1 was taken over"
    assert not await store.record_step(eid, 3, step("a", 3)), "a future attempt is no owner"
    assert await store.list_steps(eid) == []
    assert await store.record_step(eid, 2, step("a", 2))
    [a] = await store.list_steps(eid)
    assert a.attempt == 2


async def test_no_step_is_recorded_unless_the_execution_is_running(store: Store) -> None:
    queued = new_execution("queued")
    await store.create_execution(queued)
    assert not await store.record_step(queued.id, 0, step("a", 0))
    assert not await store.record_step("unknown", 1, step("a", 1))

    waiting = (await running(store, "waiting")).execution.id
    assert await store.begin_wait(waiting, 1, "nap", "timer", T0 + 50, T0 + 1)
    assert not await store.record_step(waiting, 1, step("a", 1))

    done = (await running(store, "done")).execution.id
    assert await store.complete_execution(done, 1, "null", T0 + 1)
    assert not await store.record_step(done, 1, step("a", 1))

    cancelled = (await running(store, "cancelled")).execution.id
    await store.cancel_execution(cancelled, T0 + 1)
    assert not await store.record_step(cancelled, 1, step("a", 1))

    for eid in (queued.id, waiting, done, cancelled):
        assert await store.list_steps(eid) == []


async def test_history_is_append_only_in_order_with_free_form_entries(store: Store) -> None:
    eid = (await running(store)).execution.id
    await store.add_history(eid, 1, "step_retry", '{"step_key": "a", "attempt": 2}', T0 + 2)
    await store.add_history(eid, 1, "note", None, T0 + 3)
    history = await store.list_history(eid)
    assert [(h.event, h.attempt) for h in history] == [
        ("created", 0),
        ("claimed", 1),
        ("step_retry", 1),
        ("note", 1),
    ]
    assert [h.seq for h in history] == sorted({h.seq for h in history}), "seq grows"
    assert {h.execution_id for h in history} == {eid}
    retry = history[2]
    assert retry.at == T0 + 2
    assert orjson.loads(retry.detail or "") == {"step_key": "a", "attempt": 2}
    assert history[3].detail is None
