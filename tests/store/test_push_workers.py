"""Contract: a worker sent its runs over HTTP (a Polos SDK worker) is kept with its
push endpoint, capacity, the workflows it serves and whether it is ready.

Methods: ``register_worker``, ``list_workers``, ``heartbeat``, ``set_result_schema``,
``runs_held_by``.
"""

from __future__ import annotations

from polos.store import NewExecution, Store, WorkerRow

from .kit import T0, running


async def test_a_push_worker_is_listed_with_what_it_serves(store: Store) -> None:
    ours = WorkerRow("w-ours", "host", 1, T0, T0, "default")
    sdk = WorkerRow(
        "w-sdk",
        "sdk:127.0.0.1:9000",
        0,
        T0,
        T0,
        "d1",
        (),
        "http://127.0.0.1:9000",
        7,
        ("orders", "helper"),
        False,
    )
    await store.register_worker(ours)
    await store.register_worker(sdk)
    listed = {w.worker_id: w for w in await store.list_workers()}
    assert listed["w-ours"] == ours
    assert listed["w-ours"].push_url is None and listed["w-ours"].online is True
    assert listed["w-sdk"] == sdk

    # Registering again (going online) changes what it said; a heartbeat keeps it.
    sdk.online, sdk.heartbeat_at = True, T0 + 1
    await store.register_worker(sdk)
    await store.heartbeat("w-sdk", [], T0 + 2, 30)
    [again] = [w for w in await store.list_workers() if w.worker_id == "w-sdk"]
    assert again.online is True and again.serves == ("orders", "helper")
    assert again.heartbeat_at == T0 + 2 and again.capacity == 7


async def test_the_class_of_a_result_is_named_by_the_attempt_running_it(store: Store) -> None:
    await store.create_execution(NewExecution("r1", "wf", "{}", T0))
    [claimed] = await store.claim("w-sdk", ["wf"], 1, T0, 30)
    attempt = claimed.execution.attempt
    assert not await store.set_result_schema("r1", attempt + 1, "app.Stale")  # fenced
    assert await store.set_result_schema("r1", attempt, "app.models.Receipt")
    assert await store.complete_execution("r1", attempt, '{"total": 3}', T0 + 1)
    row = await store.get_execution("r1")
    assert row is not None and row.output_schema_name == "app.models.Receipt"
    assert not await store.set_result_schema("r1", attempt, "app.Late")  # finished
    assert await store.set_result_schema("nope", 1, "x") is False


async def test_the_runs_a_set_of_workers_hold_are_read_by_owner(store: Store) -> None:
    sdk_a = (await running(store, "a1", worker="sdk-a")).execution
    sdk_a2 = (await running(store, "a2", worker="sdk-a")).execution
    sdk_b = (await running(store, "b1", worker="sdk-b")).execution
    await running(store, "ours", worker="ours")  # another worker's: not read
    parked = (await running(store, "a3", worker="sdk-a")).execution
    assert await store.begin_wait(parked.id, parked.attempt, "nap", "timer", T0 + 60, T0 + 1)
    done = (await running(store, "a4", worker="sdk-b")).execution
    assert await store.complete_execution(done.id, done.attempt, "1", T0 + 1)

    held = await store.runs_held_by(["sdk-a", "sdk-b", "nobody"])
    got = sorted((r.execution_id, r.owner, r.attempt) for r in held)
    assert got == sorted([(sdk_a.id, "sdk-a", 1), (sdk_a2.id, "sdk-a", 1), (sdk_b.id, "sdk-b", 1)])
    assert [r.execution_id for r in await store.runs_held_by(["sdk-b"])] == [sdk_b.id]
    assert await store.runs_held_by([]) == []

    # Requeued and claimed again by the same worker: the new attempt is the one held.
    assert await store.release_execution(sdk_b.id, 1, T0 + 2)
    [again] = await store.claim("sdk-b", ["b1"], 1, T0 + 3, 30.0)
    [now_held] = await store.runs_held_by(["sdk-b"])
    assert again.execution.attempt == 2
    assert (now_held.execution_id, now_held.attempt) == (sdk_b.id, 2)
