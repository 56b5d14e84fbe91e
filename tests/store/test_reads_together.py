"""Contract: many runs read at the same moment (e.g. many callers waiting for
their results). On PostgreSQL reads asked for while one is in flight share
one statement; each caller must still get its own run (or step), or None."""

from __future__ import annotations

import asyncio

from polos.store import Store

from .kit import T0, new_execution, running, step


async def test_runs_read_together_each_get_their_own(store: Store) -> None:
    queued = [new_execution() for _ in range(6)]
    for new in queued:
        await store.create_execution(new)
    taken = await running(store, "busy")
    await store.complete_execution(taken.execution.id, 1, '"done"', T0 + 3)
    ids = [n.id for n in queued] + [taken.execution.id, "no-such-run", queued[0].id]

    rows = await asyncio.gather(*(store.get_execution(i) for i in ids))

    assert [None if r is None else r.id for r in rows] == [*ids[:7], None, ids[0]]
    assert [r.status for r in rows if r is not None] == ["queued"] * 6 + ["completed", "queued"]
    finished = rows[6]
    assert finished is not None and finished.result == '"done"'


async def test_steps_read_together_each_get_their_own(store: Store) -> None:
    runs = [(await running(store, f"q{i}")).execution.id for i in range(3)]
    for i, eid in enumerate(runs):
        for key in ("a", "b"):
            assert await store.record_step(eid, 1, step(key, 1, f'"{key}{i}"'))
    asked = [(eid, key) for eid in runs for key in ("b", "a")]
    asked += [(runs[0], "missing"), ("no-such-run", "a"), (runs[2], "b")]

    rows = await asyncio.gather(*(store.get_step(eid, key) for eid, key in asked))

    got = [None if r is None else (r.execution_id, r.step_key, r.output) for r in rows]
    assert got == [
        *[(eid, key, f'"{key}{i}"') for i, eid in enumerate(runs) for key in ("b", "a")],
        None,
        None,
        (runs[2], "b", '"b2"'),
    ]


async def test_ended_among_names_the_runs_that_ended(store: Store) -> None:
    """One poll for many waiters: of the ids asked, those completed, failed or
    cancelled; queued, running and unknown ones are not named."""
    queued = new_execution()
    await store.create_execution(queued)
    done = await running(store, "done")
    await store.complete_execution(done.execution.id, 1, '"ok"', T0 + 3)
    failed = await running(store, "failed")
    await store.fail_execution(failed.execution.id, 1, '{"message": "no"}', T0 + 3)
    cancelled = new_execution("cancelled")
    await store.create_execution(cancelled)
    await store.cancel_execution(cancelled.id, T0 + 3)
    still = await running(store, "still")
    ids = [queued.id, done.execution.id, failed.execution.id, cancelled.id]
    ids += [still.execution.id, "no-such-run"]

    ended = await store.ended_among(ids)

    assert sorted(ended) == sorted([done.execution.id, failed.execution.id, cancelled.id])
    assert await store.ended_among([]) == []
