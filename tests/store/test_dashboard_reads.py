"""Contract: the reads the dashboard adds.

Methods: ``list_executions`` filtered by session and by text in the id (as
typed: ``%`` and ``_`` are not wildcards), and ``list_topics`` (each topic
with its count and last event, the most recently published to first).
"""

from __future__ import annotations

from polos.store import Store

from .kit import T0, event, new_execution


async def test_runs_filtered_by_session_and_by_text_in_the_id(store: Store) -> None:
    a = new_execution("wf", T0, session_id="s-1")
    b = new_execution("wf", T0 + 1, session_id="s-2")
    c = new_execution("other", T0 + 2, session_id="s-1")
    odd = new_execution("wf", T0 + 3)
    odd.id = "run_50%_x"
    for new in (a, b, c, odd):
        await store.create_execution(new)

    assert [r.id for r in await store.list_executions(session_id="s-1")] == [c.id, a.id]
    assert [r.id for r in await store.list_executions(session_id="s-1", workflow_id="wf")] == [a.id]
    assert await store.list_executions(session_id="nobody") == []
    assert [r.id for r in await store.list_executions(id_contains=b.id[3:11])] == [b.id]
    assert [r.id for r in await store.list_executions(id_contains=a.id)] == [a.id]
    # Typed text, not a pattern: "%" and "_" match only themselves.
    assert [r.id for r in await store.list_executions(id_contains="50%_")] == ["run_50%_x"]
    assert await store.list_executions(id_contains="5_%") == []
    assert len(await store.list_executions(id_contains="")) == 4  # empty: no filter
    assert [r.id for r in await store.list_executions(id_contains="-", limit=1, offset=1)] == [b.id]


async def test_topics_with_their_count_and_last_event(store: Store) -> None:
    assert await store.list_topics() == []
    first = await store.publish_events([event("orders"), event("orders", at=T0 + 1)], T0)
    last = await store.publish_events([event("payments", at=T0 + 2)], T0 + 2)
    assert first is not None and last is not None
    topics = await store.list_topics()
    assert [(t.topic, t.count, t.last_seq, t.last_at) for t in topics] == [
        ("payments", 1, last[0].seq, T0 + 2),
        ("orders", 2, first[1].seq, T0 + 1),
    ]
    assert [t.topic for t in await store.list_topics(limit=1)] == ["payments"]
