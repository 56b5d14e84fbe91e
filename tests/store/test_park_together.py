"""Contract: many executions parking on timers and suspends at the same moment.

On PostgreSQL their parks share one statement and one commit (group commit);
each must still be fenced by its own attempt, and one run parking twice at
once (gathered waits) keeps the first park, as one by one.
"""

from __future__ import annotations

import asyncio

from polos.store import Store

from .kit import T0, events_of, running


async def test_runs_parking_together_are_each_fenced_and_logged(store: Store) -> None:
    runs = [await running(store, f"wf-{i}") for i in range(10)]

    async def park(i: int) -> bool:
        c = runs[i]
        attempt = 7 if i == 4 else 1  # run 4's worker lost it: refused
        kind = "suspend" if i % 2 else "timer"
        wake_at = None if kind == "suspend" else T0 + 100 + i
        return await store.begin_wait(
            c.execution.id, attempt, f"wait-{i}", kind, wake_at, T0 + 2, state=f'{{"i": {i}}}'
        )

    assert await asyncio.gather(*(park(i) for i in range(10))) == [i != 4 for i in range(10)]
    for i, c in enumerate(runs):
        row = await store.get_execution(c.execution.id)
        assert row is not None
        if i == 4:
            assert row.status == "running" and row.wait_step_key is None
            assert "waiting" not in await events_of(store, c.execution.id)
            continue
        assert (row.status, row.wait_step_key) == ("waiting", f"wait-{i}"), i
        assert row.wait_kind == ("suspend" if i % 2 else "timer")
        assert row.wake_at == (None if i % 2 else T0 + 100 + i)
        assert row.state == f'{{"i": {i}}}'
        assert (await events_of(store, c.execution.id)).count("waiting") == 1
    suspended = {r.id for r in await store.list_waits("suspend")}
    assert suspended == {runs[i].execution.id for i in (1, 3, 5, 7, 9)}


async def test_one_run_parking_twice_at_once_keeps_the_first(store: Store) -> None:
    others = [await running(store, f"other-{i}") for i in range(3)]
    c = await running(store, "twice")
    calls = [
        store.begin_wait(o.execution.id, 1, "nap", "timer", T0 + 50, T0 + 2) for o in others
    ] + [
        store.begin_wait(c.execution.id, 1, "first", "timer", T0 + 50, T0 + 2),
        store.begin_wait(c.execution.id, 1, "second", "timer", T0 + 60, T0 + 2),
    ]
    assert await asyncio.gather(*calls) == [True, True, True, True, False]
    row = await store.get_execution(c.execution.id)
    assert row is not None and (row.status, row.wait_step_key, row.wake_at) == (
        "waiting",
        "first",
        T0 + 50,
    )
