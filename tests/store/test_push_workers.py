"""Contract: a worker sent its runs over HTTP (a Polos SDK worker) is kept with its
push endpoint, capacity, the workflows it serves and whether it is ready.

Methods: ``register_worker``, ``list_workers``, ``heartbeat``, ``set_result_schema``.
"""

from __future__ import annotations

from polos.store import NewExecution, Store, WorkerRow

from .kit import T0


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
