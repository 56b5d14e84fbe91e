"""Parked runs kept in memory: no replay after a wait while the worker has room."""

from __future__ import annotations

import time

from polos import Polos, WorkflowContext, workflow
from toolkit.waiting import wait_for_status

BODY_RUNS: list[str] = []


async def noop(tag: str) -> str:
    return tag


@workflow(id="hold_twice")
async def hold_twice(ctx: WorkflowContext) -> list[int]:
    BODY_RUNS.append(ctx.execution_id)  # plain code: runs again on every replay
    attempts = [ctx.attempt]
    await ctx.step.run("before", noop, "a")
    await ctx.step.wait_for("nap1", seconds=0.1)
    attempts.append(ctx.attempt)
    await ctx.step.wait_for("nap2", seconds=0.1)
    attempts.append(ctx.attempt)
    await ctx.step.run("after", noop, "b")
    return attempts


async def test_a_held_run_continues_without_replaying(database_url: str) -> None:
    BODY_RUNS.clear()
    async with Polos(database_url=database_url, workflows=[hold_twice], hold_seconds=5) as polos:
        handle = await hold_twice.invoke(polos)
        assert await handle.result(timeout=10) == [1, 2, 3]  # claimed three times...
        info = await handle.get()
    assert [handle.id] == BODY_RUNS  # ...but the body ran from the top once
    assert [e.event for e in info.history].count("waiting") == 2
    assert [s.step_key for s in info.steps] == ["before", "nap1", "nap2", "after"]


async def test_without_holding_the_run_replays(database_url: str) -> None:
    BODY_RUNS.clear()
    async with Polos(database_url=database_url, workflows=[hold_twice], hold_seconds=0) as polos:
        # Replayed from the top on the third claim: every read of ctx.attempt says 3.
        assert await hold_twice.run(polos, timeout=10) == [3, 3, 3]
    assert len(BODY_RUNS) == 3


@workflow(id="hold_long_wait")
async def hold_long_wait(ctx: WorkflowContext) -> str:
    await ctx.step.wait_for("long", seconds=2.0)
    return "late"


@workflow(id="hold_quick")
async def hold_quick(ctx: WorkflowContext) -> float:
    return time.monotonic()


async def test_held_runs_give_their_slot_up_when_work_needs_it(database_url: str) -> None:
    async with Polos(
        database_url=database_url,
        workflows=[hold_long_wait, hold_quick],
        max_concurrent_workflows=2,
        hold_seconds=30,
    ) as polos:
        sleeper = await hold_long_wait.invoke(polos)
        await wait_for_status(polos, sleeper.id, "waiting")
        began = time.monotonic()
        quick = [await hold_quick.invoke(polos) for _ in range(4)]
        done = [await h.result(timeout=10) for h in quick]
        assert max(done) - began < 1.0, "quick runs waited behind a held one"
        assert await sleeper.result(timeout=10) == "late"


@workflow(id="hold_cancelled")
async def hold_cancelled(ctx: WorkflowContext) -> str:
    await ctx.step.wait_for("long", seconds=30)
    return "never"


async def test_cancelling_a_held_run(database_url: str) -> None:
    async with Polos(
        database_url=database_url, workflows=[hold_cancelled], hold_seconds=60
    ) as polos:
        handle = await hold_cancelled.invoke(polos)
        await wait_for_status(polos, handle.id, "waiting")
        began = time.monotonic()
        await handle.cancel()
        assert (await handle.get()).status == "cancelled"
        await polos.stop()  # returns promptly: nothing is left holding
        assert time.monotonic() - began < 5


@workflow(id="hold_kid")
async def hold_kid(ctx: WorkflowContext, n: int) -> int:
    return n * 10


@workflow(id="hold_parent_of_kids")
async def hold_parent_of_kids(ctx: WorkflowContext) -> list[int]:
    BODY_RUNS.append(ctx.execution_id)
    got = []
    for i in range(3):
        got.append(await ctx.step.invoke_and_wait(f"kid_{i}", hold_kid, i))
    return [*got, ctx.attempt]


async def test_a_held_parent_is_taken_back_by_its_childs_completion(database_url: str) -> None:
    """Each child's completion ends the held parent's wait and claims the parent
    for this worker in that transaction (no requeue, no claim loop), on both
    backends: the parent's history then says so, the claim loop never takes it,
    and the wait's outcome comes with that claim (the parent reads nothing back)."""
    BODY_RUNS.clear()
    async with Polos(
        database_url=database_url, workflows=[hold_parent_of_kids, hold_kid], hold_seconds=5
    ) as polos:
        claims: list[list[str]] = []
        store = polos.store
        claim = store.claim

        async def counting_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
            taken = await claim(*args, **kwargs)
            claims.append([c.execution.id for c in taken])
            return taken

        store.claim = counting_claim  # type: ignore[method-assign]
        read_back: list[tuple[str, str]] = []
        get_step = store.get_step

        async def counting_get_step(execution_id: str, step_key: str):  # type: ignore[no-untyped-def]
            read_back.append((execution_id, step_key))
            return await get_step(execution_id, step_key)

        store.get_step = counting_get_step  # type: ignore[method-assign]
        handle = await hold_parent_of_kids.invoke(polos)
        assert await handle.result(timeout=10) == [0, 10, 20, 4]
        info = await handle.get()
    assert [handle.id] == BODY_RUNS, "held throughout: the body ran once"
    claimed = [e for e in info.history if e.event == "claimed"]
    assert len(claimed) == 4
    taken_by_loop = [c for batch in claims for c in batch if c == handle.id]
    assert taken_by_loop == [], "every resume came with its child's completion"
    assert all((e.detail or {}).get("eager") is True for e in claimed[1:])
    assert [e.attempt for e in claimed] == [1, 2, 3, 4]
    parent_reads = [key for execution_id, key in read_back if execution_id == handle.id]
    assert parent_reads == [], "each wait's outcome came with the completion that ended it"
