"""Leases and fencing: a worker whose lease was taken over cannot record or complete."""

from __future__ import annotations

import asyncio
import os

from polos import Polos, Worker, WorkflowContext, workflow
from polos.store import NewExecution, StepRow, store_from_url

GATE: dict[str, asyncio.Event] = {}
CALLS: list[str] = []


async def slow_or_fast(tag: str) -> str:
    CALLS.append(tag)
    if len(CALLS) == 1:  # the first (soon to be zombie) worker hangs here
        await GATE["release"].wait()
    return tag


@workflow(id="fence_wf")
async def fence_wf(ctx: WorkflowContext) -> str:
    who = await ctx.step.run("work", slow_or_fast, f"attempt-{ctx.attempt}")
    return str(who)


async def test_zombie_worker_cannot_record_or_complete(database_url: str) -> None:
    GATE["release"] = asyncio.Event()
    CALLS.clear()
    zombie = Polos(
        database_url=database_url,
        workflows=[fence_wf],
        max_concurrent_workflows=1,
        lease_seconds=0.5,
        heartbeat_interval=3600,  # it never renews: a paused or partitioned worker
    )
    await zombie.start()
    try:
        handle = await zombie.invoke(fence_wf)
        while not CALLS:
            await asyncio.sleep(0.01)
        # A second worker sees the expired lease, requeues and takes over.
        healthy = Worker(zombie.client, workflows=[fence_wf], lease_seconds=0.5, poll_interval=0.02)
        await healthy.start()
        try:
            assert await handle.result(zombie, timeout=20) == "attempt-2"
            GATE["release"].set()  # the zombie's step now returns and tries to record
            await asyncio.sleep(0.3)
            info = await zombie.get_execution(handle.id)
            assert info.status == "completed"
            assert info.result == "attempt-2"
            [work] = info.steps
            assert (work.output, work.attempt) == ("attempt-2", 2)
            assert [e.attempt for e in info.history if e.event == "completed"] == [2]
            assert CALLS == ["attempt-1", "attempt-2"]
        finally:
            await healthy.stop()
    finally:
        GATE["release"].set()
        await zombie.stop()


async def test_store_refuses_writes_from_a_stale_attempt(database_url: str) -> None:
    store = store_from_url(database_url)
    await store.open()
    try:
        await store.create_execution(NewExecution("e1", "wf", "null", created_at=1.0))
        [first] = await store.claim("w1", ["wf"], 10, now=2.0, lease_seconds=1.0)
        assert first.execution.attempt == 1
        assert await store.requeue_expired_leases(now=10.0) == 1
        [second] = await store.claim("w2", ["wf"], 10, now=10.0, lease_seconds=30.0)
        assert second.execution.attempt == 2

        stale = StepRow("k", "run", "f", '"old"', None, 1, 10.5)
        assert not await store.record_step("e1", 1, stale)
        assert not await store.begin_wait("e1", 1, "w", "timer", 99.0, 10.5)
        assert not await store.complete_execution("e1", 1, '"old"', 10.5)
        assert not await store.fail_execution("e1", 1, "{}", 10.5)
        assert not await store.release_execution("e1", 1, 10.5)
        assert await store.heartbeat("w1", [("e1", 1)], 10.6, 30.0) == {"e1"}

        fresh = StepRow("k", "run", "f", '"new"', None, 2, 11.0)
        assert await store.record_step("e1", 2, fresh)
        assert await store.complete_execution("e1", 2, '"new"', 11.0)
        row = await store.get_execution("e1")
        assert row is not None and (row.status, row.result, row.attempt) == (
            "completed",
            '"new"',
            2,
        )
        assert [(s.step_key, s.output) for s in await store.list_steps("e1")] == [("k", '"new"')]
    finally:
        await store.close()


async def test_dead_worker_on_this_host_is_recovered_at_once(database_url: str) -> None:
    from polos.store import WorkerRow

    store = store_from_url(database_url)
    await store.open()
    try:
        await store.create_execution(NewExecution("e1", "fence_wf", "null", created_at=1.0))
        dead_pid = 2**22 + 12345  # above pid_max on Linux: never a live process
        from polos.runtime.liveness import HOSTNAME

        await store.register_worker(WorkerRow("ghost", HOSTNAME, dead_pid, 1.0, 1e12))
        [claimed] = await store.claim("ghost", ["fence_wf"], 1, now=1.0, lease_seconds=3600)
        assert claimed.execution.owner == "ghost"
    finally:
        await store.close()
    CALLS.clear()
    GATE["release"] = asyncio.Event()
    GATE["release"].set()
    async with Polos(database_url=database_url, workflows=[fence_wf], lease_seconds=3600) as polos:
        # The lease has an hour left, but its owner's pid is gone.
        assert await polos.wait_for_result("e1", timeout=5) == "attempt-2"
        info = await polos.get_execution("e1")
        assert "owner_died" in [e.event for e in info.history]
    assert os.getpid() != dead_pid
