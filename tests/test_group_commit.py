"""Many runs' transitions at the same moment: each keeps its own outcome.

On PostgreSQL, invocations, child creations, event waits and event publishes
made at the same moment share one statement or transaction (group commit).
Whatever the backend, each call must still be fenced by its own attempt, one
call the database refuses must fail only itself, and a worker SIGKILLed in the
middle of many such transitions must lose nothing and run no recorded step
again. Nothing here times anything.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from polos import (
    BatchWorkflowInput,
    EventData,
    Polos,
    PolosClient,
    WorkflowContext,
    events,
    workflow,
)
from polos.store import NewExecution, Store, store_from_url
from polos.store.records import NewEvent, StepRow
from polos.store.vocabulary import WaitKind
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import wait_for_status, wait_until

N = 12  # concurrent calls per test: enough to share a batch, small enough to stay quick


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = store_from_url(database_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def new_execution(execution_id: str | None = None, **fields: object) -> NewExecution:
    return NewExecution(execution_id or str(uuid.uuid4()), "gc_wf", "{}", time.time(), **fields)  # type: ignore[arg-type]


async def running(store: Store, n: int) -> list[str]:
    """``n`` executions claimed by one worker (attempt 1), in claim order."""
    await store.create_executions([new_execution() for _ in range(n)])
    claimed = await store.claim("w", ["gc_wf"], n, time.time(), 30)
    assert len(claimed) == n
    return [c.execution.id for c in claimed]


# --- the store contract, on both backends --------------------------------------------------


async def test_concurrent_child_starts_are_fenced_one_by_one_and_a_refused_one_fails_alone(
    store: Store,
) -> None:
    parents = await running(store, N)
    taken = parents[0]  # a child id that already exists: that call alone is refused

    def kids(i: int) -> list[NewExecution]:
        first = new_execution(parent_execution_id=parents[i], root_execution_id=parents[i])
        second_id = taken if i == N - 1 else None
        second = new_execution(
            second_id, parent_execution_id=parents[i], root_execution_id=parents[i]
        )
        return [first, second]

    stale = N - 2  # this call comes from a zombie: attempt 7 is not the current one
    outcomes = await asyncio.gather(
        *(
            store.start_children(
                parent,
                7 if i == stale else 1,
                "kids",
                kids(i),
                wait=i % 2 == 0,
                output=None if i % 2 == 0 else '"started"',
                now=time.time(),
            )
            for i, parent in enumerate(parents)
        ),
        return_exceptions=True,
    )
    for i, outcome in enumerate(outcomes):
        tree = [e for e in await store.list_run_tree(parents[i]) if e.id != parents[i]]
        parent = await store.get_execution(parents[i])
        assert parent is not None
        if i == N - 1:
            assert isinstance(outcome, Exception), outcome
            assert tree == [] and parent.status == "running"  # all or none of its children
        elif i == stale:
            assert not isinstance(outcome, BaseException) and not outcome
            assert tree == [] and parent.status == "running"
        else:
            assert not isinstance(outcome, BaseException) and outcome, (i, outcome)
            assert len(tree) == 2 and all(e.status == "queued" for e in tree)
            assert parent.status == ("waiting" if i % 2 == 0 else "running")
            if i % 2:
                step = await store.get_step(parents[i], "kids")
                assert step is not None and step.output == '"started"'


async def test_concurrent_event_waits_each_take_their_event_park_or_are_fenced(
    store: Store,
) -> None:
    runs = await running(store, N)
    now = time.time()
    published = await store.publish_events(
        [NewEvent(str(uuid.uuid4()), "gc.early", None, "1", now)], now
    )
    assert published is not None
    [early] = published
    stale = N - 1

    def topic(i: int) -> str:
        return "gc.early" if i < 4 else f"gc.late.{i}"

    results = await asyncio.gather(
        *(
            store.wait_for_event(
                run,
                9 if i == stale else 1,
                "ev",
                WaitKind.EVENT,
                topic(i),
                0,
                None,
                None,
                time.time(),
            )
            for i, run in enumerate(runs)
        )
    )
    for i, result in enumerate(results):
        row = await store.get_execution(runs[i])
        assert row is not None
        if i == stale:
            assert not result.accepted and row.status == "running"
        elif i < 4:  # the event was there already: taken at once, no park
            assert result.accepted and result.output is not None and not result.parked
            assert str(early.seq) in result.output and row.status == "running"
        else:
            assert result.accepted and result.parked and row.status == "waiting"

    # Publishes at the same moment, one of them from a zombie step (refused):
    # every parked run gets the event of its own topic, the zombie's is not stored.
    zombie_step = StepRow("pub", "publish", "publish", "null", None, 9, time.time())
    delivered = await asyncio.gather(
        *(
            store.publish_events(
                [NewEvent(str(uuid.uuid4()), topic(i), None, f'"for {i}"', time.time())],
                time.time(),
            )
            for i in range(4, N)
            if i != stale
        ),
        store.publish_events(
            [NewEvent(str(uuid.uuid4()), "gc.zombie", None, "0", time.time())],
            time.time(),
            step=(runs[0], 9, zombie_step),
        ),
    )
    assert all(rows is not None and len(rows) == 1 for rows in delivered[:-1])
    assert delivered[-1] is None and await store.read_events("gc.zombie", 0) == []
    for i in range(4, N):
        if i == stale:
            continue
        row = await store.get_execution(runs[i])
        step = await store.get_step(runs[i], "ev")
        assert row is not None and row.status == "queued", (i, row)
        assert step is not None and step.output is not None and f"for {i}" in step.output


# --- through the public API, on both backends ---------------------------------------------


@workflow(id="gc_three_steps")
async def gc_three_steps(ctx: WorkflowContext, n: int) -> int:
    total = 0
    for i in range(3):
        total += await ctx.step.run(f"s{i}", _plus, n, i)
    return total


async def _plus(a: int, b: int) -> int:
    return a + b


async def test_concurrent_invocations_each_get_their_run_and_a_refused_call_fails_alone(
    polos: Polos, backend: str
) -> None:
    async def invoke(i: int) -> str:
        return (await gc_three_steps.invoke(polos, i)).id

    async def same_key() -> str:
        return (await gc_three_steps.invoke(polos, 100, idempotency_key="gc-once")).id

    async def refused_batch() -> list[str]:
        # PostgreSQL cannot store a NUL character in text: the whole call is
        # refused, its good run included (one call's runs are all or none).
        items = [
            BatchWorkflowInput(id="gc_three_steps", payload=200, session_id="gc-ok"),
            BatchWorkflowInput(id="gc_three_steps", payload=201, session_id="nul\x00here"),
        ]
        return [h.id for h in await polos.batch_invoke(items)]

    outcomes = await asyncio.gather(
        *(invoke(i) for i in range(N)),
        *(same_key() for _ in range(4)),
        refused_batch(),
        return_exceptions=True,
    )
    plain, keyed, batch = outcomes[:N], outcomes[N : N + 4], outcomes[-1]
    assert all(isinstance(o, str) for o in [*plain, *keyed]), outcomes
    assert len(set(keyed)) == 1  # one run for one idempotency key, however many callers
    results = [await polos.wait_for_result(str(eid), timeout=60) for eid in [*plain, keyed[0]]]
    assert results == [3 * i + 3 for i in range(N)] + [303]
    ok_runs = await polos.list_executions(workflow_id="gc_three_steps", limit=100)
    with_session = [e for e in ok_runs if e.session_id == "gc-ok"]
    if backend == "postgres":
        assert isinstance(batch, Exception), batch
        assert with_session == []
    else:  # SQLite stores the NUL: the call goes through like any other
        assert isinstance(batch, list) and len(with_session) == 1


async def test_a_refused_publish_fails_alone_and_the_others_reach_their_waiters(
    polos: Polos, backend: str
) -> None:
    handles = [await gc_event_waiter.invoke(polos, f"gc.pub.{i}") for i in range(N)]
    for handle in handles:
        await wait_for_status(polos, handle.id, "waiting", timeout=30)
    bad_type = "nul\x00type"  # PostgreSQL refuses it; SQLite stores it

    outcomes = await asyncio.gather(
        *(events.publish(polos, f"gc.pub.{i}", EventData(data=i)) for i in range(N)),
        events.publish(polos, "gc.pub.bad", EventData(event_type=bad_type, data=-1)),
        return_exceptions=True,
    )
    assert not any(isinstance(o, Exception) for o in outcomes[:N]), outcomes
    if backend == "postgres":
        assert isinstance(outcomes[-1], Exception)
        assert await polos.client.store.read_events("gc.pub.bad", 0) == []
    results = [await polos.wait_for_result(h.id, timeout=60) for h in handles]
    assert results == list(range(N))


@workflow(id="gc_event_waiter")
async def gc_event_waiter(ctx: WorkflowContext, topic: str) -> object:
    event = await ctx.step.wait_for_event("signal", topic=topic)
    return event.data


# --- a worker SIGKILLed in the middle of many such transitions ------------------------------


async def test_kill_while_many_parents_start_children_and_runs_wait_on_events(
    database_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path)
        parents, waiters = await asyncio.gather(
            asyncio.gather(*(client.invoke("crash_parent", {"slow": 0.3}) for _ in range(6))),
            asyncio.gather(
                *(client.invoke("crash_event_waiter", {"topic": f"gc.crash.{i}"}) for i in range(6))
            ),
        )

        # Parked first: a run killed between its claim and its wait takes its
        # event cursor again at its next claim (engine semantics, not batching),
        # so an event published meanwhile would be behind that cursor.
        for handle in waiters:
            await wait_for_status(client, handle.id, "waiting", timeout=30)
        await asyncio.to_thread(
            wait_until, lambda: StepLog.read(log_path).started("s1") >= 3, 30, "children half way"
        )
        worker.kill()
        await asyncio.gather(
            *(events.publish(client, f"gc.crash.{i}", EventData(data=i)) for i in range(6))
        )
        restarted = WorkerProcess(database_url, log_path)
        try:
            assert [await h.result(client, timeout=60) for h in parents] == [9] * 6
            assert [await h.result(client, timeout=60) for h in waiters] == list(range(6))
        finally:
            restarted.terminate()
        log = StepLog.read(log_path)
        for handle in [*parents, *waiters]:
            info = await client.get_execution(handle.id)
            for step in info.steps:
                later = [
                    at
                    for _, at in log.starts[(handle.id, step.step_key)]
                    if at > step.created_at.timestamp()
                ]
                assert not later, f"{step.step_key} of {handle.id} ran again after it was recorded"
            assert len(log.starts[(handle.id, "before")]) == 1
        for handle in parents:
            kids = [
                e
                for e in await client.list_executions(workflow_id="crash_many_steps", limit=200)
                if e.parent_execution_id == handle.id
            ]
            assert len(kids) == 3 and all(k.status == "completed" for k in kids)


async def test_a_record_refused_on_its_own_fails_its_caller_without_sending_again() -> None:
    from polos.store.postgres.group_commit import GroupCommit

    flushed: list[list[int]] = []

    async def flush(rows: Sequence[int]) -> list[str | Exception]:
        flushed.append(list(rows))
        return [ValueError(f"row {r} refused") if r == 3 else f"ok {r}" for r in rows]

    commit: GroupCommit[int, str] = GroupCommit(flush)
    outcomes = await asyncio.gather(*(commit.submit(r) for r in range(6)), return_exceptions=True)
    assert [str(o) for o in outcomes] == ["ok 0", "ok 1", "ok 2", "row 3 refused", "ok 4", "ok 5"]
    assert isinstance(outcomes[3], ValueError)
    assert sum(len(rows) for rows in flushed) == 6, "the others were written: nothing is resent"
