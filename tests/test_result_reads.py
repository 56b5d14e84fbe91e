"""What waiting for a run's result and ending a run read and write, counted.

A run this process's worker executes signals its end here, so a waiter does
not read it first; a run with no parent has none to count down when it ends.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import orjson
import pytest

from polos import Polos, WorkflowContext, WorkflowFailedError, workflow
from polos.store import hub as hub_module


async def slow_double(n: int) -> int:
    return n * 2


@workflow(id="reads_double")
async def reads_double(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("double", slow_double, n)


@workflow(id="reads_long_result")
async def reads_long_result(ctx: WorkflowContext) -> str:
    await ctx.step.run("noop", slow_double, 1)
    return "x" * (hub_module.RESULT_MAX_CHARS + 1)  # too long to be kept in memory


@workflow(id="reads_fails")
async def reads_fails(ctx: WorkflowContext) -> None:
    await ctx.step.run("noop", slow_double, 1)
    raise ValueError("no luck")


@workflow(id="reads_parent")
async def reads_parent(ctx: WorkflowContext) -> list[int]:
    first = await ctx.step.invoke_and_wait("first", reads_double, 1)
    second = await ctx.step.invoke_and_wait("second", reads_double, 2)
    return [first, second]


@workflow(id="reads_remote")
async def reads_remote(ctx: WorkflowContext, payload: dict[str, int]) -> int:
    return payload["n"] * 2  # run by "another process" in the test: never here


def _count_wake_alls(polos: Polos) -> list[None]:
    """Each time the store wakes every waiter to read its run again."""
    hub: Any = polos.store.hub
    wakes: list[None] = []
    wake_all = hub.wake_finished_waiters

    def counting() -> None:
        wakes.append(None)
        wake_all()

    hub.wake_finished_waiters = counting
    return wakes


def _count_reads(polos: Polos) -> list[str]:
    store: Any = polos.store
    reads: list[str] = []
    get_execution = store.get_execution

    async def counting(execution_id: str) -> Any:
        reads.append(execution_id)
        return await get_execution(execution_id)

    store.get_execution = counting
    return reads


async def test_waiting_for_a_run_this_worker_executes_reads_nothing(database_url: str) -> None:
    """A run started here at once (eager start) is not read before waiting.
    One queued instead (a busy moment) is read, as any run executed elsewhere,
    and so is the run awaited when the store says its end signals may have been
    lost (PostgreSQL's listener reconnecting, on a loaded machine): one each."""
    async with Polos(database_url=database_url, workflows=[reads_double]) as polos:
        await reads_double.run(polos, 0)  # warm
        reads = _count_reads(polos)
        signals_lost = _count_wake_alls(polos)
        handles = []
        for n in range(5):  # each waited for as soon as it is submitted, as run() does
            handles.append(await reads_double.invoke(polos, n))
            assert await handles[-1].result(timeout=10) == n * 2
        read_before_waiting = list(reads)
        infos = [await h.get() for h in handles]
    started_here = {
        info.id
        for info in infos
        if any(e.event == "claimed" and (e.detail or {}).get("eager") for e in info.history)
    }
    assert started_here, "the worker started the runs submitted beside it"
    queued = {h.id for h in handles} - started_here
    assert queued <= set(read_before_waiting)
    if not signals_lost:
        assert set(read_before_waiting) == queued
    else:
        # The listener's connection dropped (seen once, in a full CI run on a
        # loaded machine; why it dropped was not pinned down). Which waiter
        # reads what then depends on when the drop fell: two runs were read
        # around that one drop. Bounded still: no waiter reads in a loop.
        assert len(read_before_waiting) <= len(handles) + len(signals_lost)


async def test_a_result_too_long_to_keep_or_a_failure_is_read_once(database_url: str) -> None:
    """The shortcut skips only the first read: after the end's signal the waiter
    reads the run, so long results and failures still arrive."""
    async with Polos(
        database_url=database_url, workflows=[reads_long_result, reads_fails]
    ) as polos:
        reads = _count_reads(polos)
        handle = await reads_long_result.invoke(polos)
        assert await handle.result(timeout=10) == "x" * (hub_module.RESULT_MAX_CHARS + 1)
        assert reads == [handle.id]
        failing = await reads_fails.invoke(polos)
        with pytest.raises(WorkflowFailedError, match="no luck"):
            await failing.result(timeout=10)
        assert reads == [handle.id, failing.id]


async def test_a_run_that_is_not_executing_here_is_read(database_url: str) -> None:
    """A run no worker here executes (this one finished already, its result not
    kept because it failed) is read at once, not left to a poll."""
    async with Polos(database_url=database_url, workflows=[reads_fails]) as polos:
        handle = await reads_fails.invoke(polos)
        with pytest.raises(WorkflowFailedError):
            await handle.result(timeout=10)
        reads = _count_reads(polos)
        with pytest.raises(WorkflowFailedError, match="no luck"):
            await handle.result(timeout=10)
        assert reads == [handle.id]


async def test_ending_a_top_level_run_looks_for_no_parent(sqlite_url: str) -> None:
    """SQLite: a run's end returns its link to a parent; a top-level run then
    costs no count-down statement, while a child still counts its parent down."""
    async with Polos(database_url=sqlite_url, workflows=[reads_double, reads_parent]) as polos:
        await reads_double.run(polos, 0)  # warm
        conn: sqlite3.Connection = polos.store._conn  # type: ignore[attr-defined]
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        try:
            assert await reads_double.run(polos, 3) == 6
            alone = [s for s in seen if "pending_children - 1" in s]
            seen.clear()
            assert await reads_parent.run(polos, timeout=10) == [2, 4]
            with_parent = [s for s in seen if "pending_children - 1" in s]
        finally:
            conn.set_trace_callback(None)
    assert alone == []
    assert len(with_parent) == 2, "each child's end counted its parent down"


async def test_waiters_on_runs_ended_elsewhere_share_one_poll(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs another process executes: each waiter reads its run once, then once
    more when woken. On SQLite one poll for all waiters wakes them (the
    other process's wake-ups may be lost; here there are none: it is this
    process); on PostgreSQL the end's NOTIFY does. No waiter's own safety-net
    poll may do it within the test."""
    from polos import PolosClient
    from polos.runtime import client as client_module
    from polos.store import store_from_url
    from polos.store.hub import Hub

    monkeypatch.setattr(client_module, "_POLL_SAFETY", 3600.0)
    here, elsewhere = store_from_url(database_url), store_from_url(database_url)
    elsewhere.hub = Hub()  # another process's: its ends do not reach this one's hub
    await elsewhere.open()
    try:
        async with PolosClient(store=here) as client:
            handles = [await client.invoke("reads_remote", {"n": i}) for i in range(30)]
            reads: list[str] = []
            get_execution = here.get_execution

            async def counting(execution_id: str) -> Any:
                reads.append(execution_id)
                return await get_execution(execution_id)

            here.get_execution = counting  # type: ignore[method-assign]
            waiting = [
                asyncio.ensure_future(client.wait_for_result(h.id, timeout=60)) for h in handles
            ]
            await asyncio.sleep(0.6)  # waiting while the runs are queued
            assert not any(w.done() for w in waiting)
            now = time.time()
            claimed = await elsewhere.claim("w-elsewhere", ["reads_remote"], 30, now, 30.0)
            assert len(claimed) == 30
            for c in claimed:
                n = orjson.loads(c.execution.payload)["n"]
                await elsewhere.complete_execution(c.execution.id, 1, str(n * 2), now)
            results = await asyncio.wait_for(asyncio.gather(*waiting), 30)
    finally:
        await elsewhere.close()
    assert results == [i * 2 for i in range(30)]
    # Submitted by this process and not heard to end: not read before waiting;
    # read once when woken by the end.
    assert sorted(reads) == sorted(h.id for h in handles)


async def test_a_run_found_by_its_idempotency_key_is_read_at_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id an idempotency key finds is an earlier run, perhaps long ended: it
    is read before waiting, not taken for a run just submitted."""
    from polos.runtime import client as client_module

    monkeypatch.setattr(client_module, "_POLL_SAFETY", 3600.0)
    async with Polos(database_url=database_url, workflows=[reads_fails]) as polos:
        first = await reads_fails.invoke(polos, idempotency_key="once")
        with pytest.raises(WorkflowFailedError):
            await first.result(timeout=10)
        again = await reads_fails.invoke(polos, idempotency_key="once")
        assert again.id == first.id
        with pytest.raises(WorkflowFailedError, match="no luck"):
            await again.result(timeout=10)
