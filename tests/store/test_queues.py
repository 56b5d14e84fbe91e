"""Contract: queues, their limits, and the counts behind them.

Methods: ``upsert_queue``, ``list_queues``, ``queue_counts``, and ``claim``
applying the limits (see :mod:`polos.store.admission`): every running
execution of a queue and concurrency key counts against its concurrency
limit (a waiting one does not); only first starts count against its rate
limit.
"""

from __future__ import annotations

from polos.store import Store
from polos.store.admission import PAGE, RATE_MARGIN
from polos.store.records import QueueCount, QueueRow

from .kit import T0, new_execution


async def test_queues_are_upserted_and_listed_by_name(store: Store) -> None:
    await store.upsert_queue(QueueRow("b", 2, None, None, T0))
    await store.upsert_queue(QueueRow("a", None, 10, 60.0, T0))
    await store.upsert_queue(QueueRow("b", 5, 1, 1.0, T0 + 1))
    assert await store.list_queues() == [
        QueueRow("a", None, 10, 60.0, T0),
        QueueRow("b", 5, 1, 1.0, T0 + 1),
    ]


async def test_a_concurrency_limit_caps_running_executions_per_key(store: Store) -> None:
    await store.upsert_queue(QueueRow("q", 2, None, None, T0))
    news = [
        new_execution("wf", T0 + i * 0.01, queue_name="q", concurrency_key=key)
        for i, key in enumerate(["a", "a", "a", "b", "b", "b"])
    ]
    free = new_execution("wf", T0 + 1, queue_name="unlimited")
    await store.create_executions([*news, free])
    claimed = await store.claim("w", ["wf"], 100, T0 + 2, 30.0)
    ids = [c.execution.id for c in claimed]
    assert ids == [news[0].id, news[1].id, news[3].id, news[4].id, free.id]
    assert await store.claim("w", ["wf"], 100, T0 + 3, 30.0) == []
    # A waiting execution holds no concurrency slot; a finished one neither.
    assert await store.begin_wait(news[0].id, 1, "nap", "timer", T0 + 100, T0 + 4)
    assert await store.complete_execution(news[3].id, 1, "null", T0 + 4)
    again = await store.claim("w", ["wf"], 100, T0 + 5, 30.0)
    assert [c.execution.id for c in again] == [news[2].id, news[5].id]


async def test_a_rate_limit_counts_first_starts_in_a_sliding_window(store: Store) -> None:
    await store.upsert_queue(QueueRow("q", None, 2, 60.0, T0))
    news = [new_execution("wf", T0 + i * 0.01, queue_name="q") for i in range(5)]
    await store.create_executions(news)
    first = await store.claim("w", ["wf"], 100, T0 + 1, 30.0)
    assert [c.execution.id for c in first] == [news[0].id, news[1].id]
    # A run handed back and claimed again is not a new start.
    assert await store.release_execution(news[0].id, 1, T0 + 2)
    [resumed] = await store.claim("w", ["wf"], 100, T0 + 3, 30.0)
    assert (resumed.execution.id, resumed.execution.attempt) == (news[0].id, 2)
    for c in [*first[1:], resumed]:
        await store.complete_execution(c.execution.id, c.execution.attempt, "null", T0 + 4)
    assert await store.claim("w", ["wf"], 100, T0 + 30, 30.0) == [], "the window is full"
    later = await store.claim("w", ["wf"], 100, T0 + 70, 30.0)
    assert [c.execution.id for c in later] == [news[2].id, news[3].id]


async def test_admission_reads_past_a_page_of_blocked_candidates(store: Store) -> None:
    await store.upsert_queue(QueueRow("q", 1, None, None, T0))
    blocked = [
        new_execution("wf", T0 + i * 0.001, queue_name="q", concurrency_key="a")
        for i in range(PAGE + 44)
    ]
    behind = new_execution("wf", T0 + 1, queue_name="q", concurrency_key="b")
    await store.create_executions([*blocked, behind])
    claimed = await store.claim("w", ["wf"], 100, T0 + 2, 30.0)
    assert [c.execution.id for c in claimed] == [blocked[0].id, behind.id]


async def test_a_rate_window_counts_starts_a_margin_longer_than_its_period(
    store: Store,
) -> None:
    # A run starts a little after its claim commits: every backend counts its
    # start for RATE_MARGIN beyond the period, so the limit holds as users see it.
    await store.upsert_queue(QueueRow("q", None, 1, 60.0, T0))
    news = [new_execution("wf", T0 + i * 0.01, queue_name="q") for i in range(2)]
    await store.create_executions(news)
    [first] = await store.claim("w", ["wf"], 100, T0 + 1, 30.0)
    assert first.execution.id == news[0].id
    inside_margin = T0 + 1 + 60.0 + RATE_MARGIN / 2
    assert await store.claim("w", ["wf"], 100, inside_margin, 30.0) == []
    [second] = await store.claim("w", ["wf"], 100, T0 + 1 + 60.0 + RATE_MARGIN * 2, 30.0)
    assert second.execution.id == news[1].id


async def test_queue_counts_count_active_executions_per_queue_key_and_status(
    store: Store,
) -> None:
    news = [
        new_execution("wf", T0 + i * 0.01, queue_name=q, concurrency_key=k)
        for i, (q, k) in enumerate([("q", "a"), ("q", "a"), ("q", "b"), ("r", ""), ("r", "")])
    ]
    await store.create_executions(news)
    [_, c2] = await store.claim("w", ["wf"], 2, T0 + 1, 30.0)
    await store.begin_wait(c2.execution.id, 1, "nap", "timer", None, T0 + 2)
    [c3] = await store.claim("w", ["wf"], 1, T0 + 3, 30.0)
    await store.complete_execution(c3.execution.id, 1, "null", T0 + 4)

    def rows(counts: list[QueueCount]) -> list[tuple[object, ...]]:
        return sorted(
            (
                c.queue_name,
                "<all>" if c.concurrency_key is None else c.concurrency_key,
                c.queued,
                c.running,
                c.waiting,
                c.key_count,
            )
            for c in counts
        )

    totals = [  # (queue, key, queued, running, waiting, number of keys)
        ("q", "<all>", 0, 1, 1, 1),
        ("r", "<all>", 2, 0, 0, 1),
    ]
    keys = [("q", "a", 0, 1, 1, None), ("r", "", 2, 0, 0, None)]
    assert rows(await store.queue_counts()) == sorted(totals + keys)
    # Key "b" has no active run left: "a" and "" are their queues' only keys.
    assert rows(await store.queue_counts(max_keys=1)) == sorted(totals + keys)
    assert rows(await store.queue_counts(max_keys=0)) == totals
    assert all(isinstance(c, QueueCount) for c in await store.queue_counts())
