"""SQLite: write transactions asked for in one loop turn share one commit.

A run's start or end rewrites about ten pages of the write-ahead log; runs
moving at the same moment share one commit instead of paying that each. What
must hold: every caller still gets its own outcome, a call the database
refuses fails alone, a caller cancelled while it waits is not written, and a
lone call is not delayed at all. Commits are counted with the connection's
statement trace; nothing here times anything.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from polos import Polos, WorkflowContext, workflow
from polos.store import NewExecution, Store, store_from_url

N = 12


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    s = store_from_url(sqlite_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def commits_of(store: Store) -> list[str]:
    """The COMMITs the store's connection runs from now on (its statement trace)."""
    seen: list[str] = []
    conn: sqlite3.Connection = store._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def new_execution(execution_id: str | None = None) -> NewExecution:
    return NewExecution(execution_id or str(uuid.uuid4()), "tb_wf", "{}", time.time())


async def test_creations_asked_in_one_turn_share_one_commit(store: Store) -> None:
    commits = commits_of(store)
    news = [new_execution() for _ in range(N)]
    ids = await asyncio.gather(*(store.create_execution(n) for n in news))
    assert ids == [n.id for n in news]
    assert len(commits) == 1, commits
    rows = [await store.get_execution(n.id) for n in news]
    assert all(r is not None and r.status == "queued" for r in rows)


async def test_a_refused_creation_fails_alone_and_the_others_are_written(store: Store) -> None:
    taken = new_execution()
    await store.create_execution(taken)
    news = [new_execution() for _ in range(N)]
    outcomes = await asyncio.gather(
        *(store.create_execution(n) for n in news[:6]),
        store.create_execution(new_execution(taken.id)),  # that id exists: refused
        *(store.create_execution(n) for n in news[6:]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[6], sqlite3.IntegrityError), outcomes[6]
    assert outcomes[:6] + outcomes[7:] == [n.id for n in news]
    for n in news:
        assert await store.get_execution(n.id) is not None
    original = await store.get_execution(taken.id)
    assert original is not None and original.workflow_id == "tb_wf"


async def test_a_caller_cancelled_while_it_waits_is_not_written(store: Store) -> None:
    news = [new_execution() for _ in range(N)]
    tasks = [asyncio.ensure_future(store.create_execution(n)) for n in news]
    await asyncio.sleep(0)  # every task is now waiting for the turn's commit
    tasks[3].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[3], asyncio.CancelledError)
    assert await store.get_execution(news[3].id) is None
    for i, n in enumerate(news):
        if i != 3:
            assert outcomes[i] == n.id and await store.get_execution(n.id) is not None


async def test_a_lone_call_commits_before_it_returns_without_waiting_for_a_turn(
    store: Store,
) -> None:
    commits = commits_of(store)
    new = new_execution()
    call = store.create_execution(new)
    # Nothing else is ready: the transaction runs at once, so the coroutine
    # finishes on its first step instead of waiting for the loop.
    with pytest.raises(StopIteration) as done:
        call.send(None)
    assert done.value.value == new.id
    assert commits == ["COMMIT"]


@workflow(id="tb_three_steps")
async def tb_three_steps(ctx: WorkflowContext, n: int) -> int:
    total = n
    for i in range(3):
        total += await ctx.step.run(f"s{i}", _plus_one, i)
    return total


async def _plus_one(i: int) -> int:
    return i + 1


async def test_runs_submitted_together_share_commits_and_each_gets_its_result(
    sqlite_url: str,
) -> None:
    async with Polos(database_url=sqlite_url, workflows=[tb_three_steps]) as polos:
        commits = commits_of(polos.store)

        async def one(i: int) -> int:
            handle = await tb_three_steps.invoke(polos, i)
            return int(await polos.wait_for_result(handle.id, timeout=60))

        results = await asyncio.gather(*(one(i) for i in range(40)))
        assert results == [i + 6 for i in range(40)]
        # 40 starts and 40 ends, alone, would be 80 commits (steps commit on
        # their own either way); sharing, far fewer.
        assert len(commits) < 40, len(commits)
