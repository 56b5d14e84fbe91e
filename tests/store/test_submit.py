"""Contract: opening, submitting executions, and reading them back.

Methods: ``open``, ``close``, ``create_execution``, ``create_executions``,
``get_execution``, ``list_executions``, ``list_history`` (the ``created``
entry).
"""

from __future__ import annotations

import orjson

from polos.store import Store, store_from_url

from .kit import T0, events_of, new_execution


async def test_open_twice_is_harmless_and_data_survives_a_reopen(
    store: Store, database_url: str
) -> None:
    await store.open()
    eid = await store.create_execution(new_execution())
    await store.close()
    await store.close()  # closing twice is harmless too
    again = store_from_url(database_url)
    await again.open()
    try:
        row = await again.get_execution(eid)
        assert row is not None and row.status == "queued"
        assert isinstance(again.description, str) and again.description
        assert again.hub is store.hub, "one hub per database per process"
    finally:
        await again.close()
    await store.open()  # the fixture closes it


async def test_a_new_execution_is_queued_with_every_field_it_was_given(store: Store) -> None:
    new = new_execution(
        "wf",
        T0,
        parent_execution_id=None,
        root_execution_id=None,
        session_id="s1",
        user_id="u1",
        run_timeout_seconds=60.0,
        state='{"count": 0}',
        queue_name="q",
        concurrency_key="tenant-1",
        priority=5,
        idempotency_key="order-42",
        schedule_id=None,
    )
    assert await store.create_execution(new) == new.id
    row = await store.get_execution(new.id)
    assert row is not None
    assert (row.id, row.workflow_id, row.status, row.payload) == (
        new.id,
        "wf",
        "queued",
        new.payload,
    )
    assert (row.result, row.error, row.attempt, row.owner, row.lease_expires_at) == (
        None,
        None,
        0,
        None,
        None,
    )
    assert (row.created_at, row.started_at, row.completed_at) == (T0, None, None)
    assert (row.session_id, row.user_id, row.run_timeout_seconds) == ("s1", "u1", 60.0)
    assert row.deadline_at is None, "the deadline starts at the first claim"
    assert row.initial_state == row.state == '{"count": 0}'
    assert (row.queue_name, row.concurrency_key, row.priority) == ("q", "tenant-1", 5)
    assert row.idempotency_key == "order-42"
    assert (row.wait_step_key, row.wait_kind, row.wake_at, row.pending_children) == (
        None,
        None,
        None,
        0,
    )
    [created] = await store.list_history(new.id)
    assert (created.execution_id, created.event, created.attempt, created.at) == (
        new.id,
        "created",
        0,
        T0,
    )


async def test_unknown_ids_read_as_nothing(store: Store) -> None:
    assert await store.get_execution("nope") is None
    assert await store.list_steps("nope") == []
    assert await store.get_step("nope", "a") is None
    assert await store.list_history("nope") == []
    assert await store.list_run_tree("nope") == []


async def test_a_batch_is_inserted_in_order_and_an_empty_batch_is_nothing(store: Store) -> None:
    news = [new_execution("wf", T0 + i) for i in range(5)]
    assert await store.create_executions(news) == [n.id for n in news]
    assert await store.create_executions([]) == []
    rows = await store.list_executions()
    assert [r.id for r in rows] == [n.id for n in reversed(news)], "newest first"
    assert {r.status for r in rows} == {"queued"}
    for n in news:
        assert await events_of(store, n.id) == ["created"]


async def test_an_idempotency_key_returns_the_first_execution(store: Store) -> None:
    first = new_execution(idempotency_key="pay-1")
    assert await store.create_execution(first) == first.id
    again = new_execution(idempotency_key="pay-1", at=T0 + 1)
    assert await store.create_execution(again) == first.id
    assert await store.get_execution(again.id) is None
    # In a batch: new keys are inserted, a used key maps to its first execution.
    batch = [new_execution(idempotency_key="pay-2"), new_execution(idempotency_key="pay-1")]
    ids = await store.create_executions(batch)
    assert ids == [batch[0].id, first.id]
    assert len(await store.list_executions()) == 2
    assert await events_of(store, first.id) == ["created"], "no second 'created' entry"


async def test_listing_filters_by_status_and_workflow_newest_first_up_to_a_limit(
    store: Store,
) -> None:
    a = [new_execution("a", T0 + i) for i in range(3)]
    b = [new_execution("b", T0 + 10 + i) for i in range(2)]
    await store.create_executions(a + b)
    [claimed] = await store.claim("w", ["a"], 1, T0 + 20, 30.0)
    assert claimed.execution.id == a[0].id
    assert [r.id for r in await store.list_executions(workflow_id="a")] == [
        a[2].id,
        a[1].id,
        a[0].id,
    ]
    assert [r.id for r in await store.list_executions(status="running")] == [a[0].id]
    assert [r.id for r in await store.list_executions(status="queued", workflow_id="a")] == [
        a[2].id,
        a[1].id,
    ]
    assert [r.id for r in await store.list_executions(limit=2)] == [b[1].id, b[0].id]
    assert await store.list_executions(status="completed") == []
    assert await store.list_executions(workflow_id="c") == []


async def test_payloads_are_stored_as_given_text(store: Store) -> None:
    payload = orjson.dumps({"text": "héllo \u2603", "n": [1, 2.5, None], "big": 2**60}).decode()
    new = new_execution()
    new.payload = payload
    await store.create_execution(new)
    row = await store.get_execution(new.id)
    assert row is not None and orjson.loads(row.payload) == orjson.loads(payload)


async def test_listing_pages_with_an_offset_and_a_creation_window(store: Store) -> None:
    news = [new_execution("wf", T0 + i) for i in range(6)]
    await store.create_executions(news)
    newest_first = [n.id for n in reversed(news)]
    assert [r.id for r in await store.list_executions(limit=2, offset=2)] == newest_first[2:4]
    assert await store.list_executions(offset=6) == []
    window = await store.list_executions(created_after=T0 + 1, created_before=T0 + 4)
    assert [r.id for r in window] == [news[3].id, news[2].id, news[1].id], "[after, before)"
    # Ties on created_at are ordered by id, so pages never skip or repeat a row.
    tied = [new_execution("tied", T0 + 100) for _ in range(5)]
    await store.create_executions(tied)
    pages = [
        [r.id for r in await store.list_executions(workflow_id="tied", limit=2, offset=o)]
        for o in (0, 2, 4)
    ]
    flat = [eid for page in pages for eid in page]
    assert sorted(flat) == sorted(t.id for t in tied) and len(set(flat)) == 5
