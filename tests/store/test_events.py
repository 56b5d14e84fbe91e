"""Contract: publishing and reading events.

Methods: ``publish_events``, ``read_events``, ``topic_position``. Sequence ids grow across all
topics; publishing may record the publishing step in the same transaction,
fenced.
"""

from __future__ import annotations

import asyncio

import orjson

from polos.store import Store

from .kit import T0, event, running, step


async def test_published_events_get_growing_sequence_ids_and_read_back_by_topic(
    store: Store,
) -> None:
    rows = await store.publish_events(
        [event("a", '{"n": 1}'), event("b"), event("a", '{"n": 2}', at=T0 + 1)], T0
    )
    assert rows is not None and [r.topic for r in rows] == ["a", "b", "a"]
    seqs = [r.seq for r in rows]
    assert seqs == sorted(set(seqs)) and seqs[0] >= 1
    a = await store.read_events("a", 0)
    assert [(e.seq, orjson.loads(e.data)) for e in a] == [(seqs[0], {"n": 1}), (seqs[2], {"n": 2})]
    assert (a[1].event_type, a[1].created_at, a[1].id) == ("test", T0 + 1, rows[2].id)
    assert [e.seq for e in await store.read_events("a", seqs[0])] == [seqs[2]]
    assert [e.seq for e in await store.read_events("a", 0, limit=1)] == [seqs[0]]
    assert await store.read_events("a", seqs[2]) == []
    assert await store.read_events("nobody", 0) == []
    assert await store.publish_events([], T0) == []


async def test_a_topic_position_is_its_last_event_or_the_last_before_a_time(
    store: Store,
) -> None:
    assert await store.topic_position("a") == 0
    rows = await store.publish_events(
        [event("a", at=T0), event("b", at=T0 + 1), event("a", at=T0 + 2), event("a", at=T0 + 4)],
        T0,
    )
    assert rows is not None
    first, _, second, third = (r.seq for r in rows)
    assert await store.topic_position("a") == third
    assert await store.topic_position("b") == rows[1].seq
    assert await store.topic_position("nobody") == 0
    # With a time: the last event before the first one published after it.
    assert await store.topic_position("a", T0 - 1) == 0
    assert await store.topic_position("a", T0) == first
    assert await store.topic_position("a", T0 + 3) == second
    assert await store.topic_position("a", T0 + 10) == third


async def test_concurrent_publishers_never_share_a_sequence_id(stores: list[Store]) -> None:
    batches = await asyncio.gather(
        *(s.publish_events([event("t") for _ in range(10)], T0) for s in stores)
    )
    seqs = [r.seq for rows in batches for r in rows or []]
    assert len(seqs) == len(set(seqs)) == 40
    assert [e.seq for e in await stores[0].read_events("t", 0, limit=100)] == sorted(seqs)


async def test_publishing_from_a_step_records_the_step_in_the_same_transaction(
    store: Store,
) -> None:
    eid = (await running(store)).execution.id
    row = step("announce", 1, '"sent"')
    row.kind = "publish"
    rows = await store.publish_events([event("news")], T0 + 1, step=(eid, 1, row))
    assert rows is not None and len(rows) == 1
    recorded = await store.get_step(eid, "announce")
    assert recorded is not None and (recorded.kind, recorded.output) == ("publish", '"sent"')


async def test_a_stale_publishing_step_publishes_nothing(store: Store) -> None:
    eid = (await running(store)).execution.id
    assert await store.publish_events([event("news")], T0 + 1, step=(eid, 2, step("s", 2))) is None
    assert await store.read_events("news", 0) == []
    assert await store.list_steps(eid) == []
