"""A heartbeat that reaches the database after one of its runs parked.

The worker sends the leases of its running runs; a run that parks while that
heartbeat is on its way is "waiting" when the database reads it, so the
heartbeat reports it lost. The run is held in memory, then taken back under a
new claim: it must carry on, not be stopped as if another worker had it (it
would sit until its lease ran out, then replay and make its calls again).
"""

from __future__ import annotations

import asyncio
from typing import Any

from polos import Polos, WorkflowContext, workflow

GATES: dict[str, asyncio.Event] = {}
CALLS: list[str] = []


async def gated_double(n: int) -> int:
    await GATES["child"].wait()
    return 2 * n


@workflow(id="hb_child")
async def hb_child(ctx: WorkflowContext, n: int) -> int:
    return int(await ctx.step.run("double", gated_double, n))


async def counted(tag: str) -> str:
    CALLS.append(tag)
    if tag == "before":
        await GATES["before"].wait()  # until a heartbeat carrying this run is on its way
    return tag


@workflow(id="hb_parent")
async def hb_parent(ctx: WorkflowContext) -> list[Any]:
    before = await ctx.step.run("before", counted, "before")
    doubled = await ctx.step.invoke_and_wait("child", hb_child, 21)
    after = await ctx.step.run("after", counted, "after")
    return [before, doubled, after]


async def test_a_run_that_parks_while_a_heartbeat_is_on_its_way_carries_on(
    database_url: str,
) -> None:
    GATES["child"], GATES["before"] = asyncio.Event(), asyncio.Event()
    CALLS.clear()
    polos = Polos(
        database_url=database_url,
        workflows=[hb_parent, hb_child],
        lease_seconds=300,  # a stranded run would wait this long: the test's timeout is far less
        heartbeat_interval=0.05,
        poll_interval=0.05,
    )
    store = polos.client.store
    real_heartbeat = store.heartbeat
    parent_id: list[str] = []
    reported_lost: list[set[str]] = []

    async def heartbeat_after_the_park(
        worker_id: str, leases: Any, now: float, lease_seconds: float
    ) -> set[str]:
        if parent_id and any(execution_id == parent_id[0] for execution_id, _ in leases):
            # Sent while the parent ran; read by the database once it parked.
            GATES["before"].set()
            while (await store.get_execution(parent_id[0])).status != "waiting":  # type: ignore[union-attr]
                await asyncio.sleep(0.01)
            lost = await real_heartbeat(worker_id, leases, now, lease_seconds)
            reported_lost.append(lost)
            GATES["child"].set()  # now the child ends and the parent is taken back
            return lost
        return await real_heartbeat(worker_id, leases, now, lease_seconds)

    store.heartbeat = heartbeat_after_the_park  # type: ignore[method-assign]
    await polos.start()
    try:
        handle = await polos.invoke(hb_parent)
        parent_id.append(handle.id)
        assert await handle.result(polos, timeout=20) == ["before", 42, "after"]
        assert any(parent_id[0] in lost for lost in reported_lost)  # the case did happen
        assert CALLS == ["before", "after"]  # nothing made twice
        info = await polos.get_execution(handle.id)
        assert [e.event for e in info.history].count("claimed") <= 2
    finally:
        GATES["child"].set()
        GATES["before"].set()
        await polos.stop()
