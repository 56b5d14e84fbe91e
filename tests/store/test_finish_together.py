"""Contract: many executions ending at the same moment.

On PostgreSQL their completions share one statement and one commit (group
commit); each must still be fenced by its own attempt, siblings must count
their parent down exactly once each, and one completion the database refuses
must fail only its own caller.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from polos.store import Store

from .kit import T0, children, claim_all, events_of, running, step


async def test_siblings_ending_together_wake_their_parent_once(store: Store) -> None:
    parent = await running(store, "parent")
    kids = children(parent, "fan_out", 12)
    assert await store.start_children(
        parent.execution.id, 1, "fan_out", kids, wait=True, output=None, now=T0 + 1
    )
    assert set(await claim_all(store, "kid")) == {k.id for k in kids}

    async def end(i: int) -> bool:
        if i % 3 == 0:
            return await store.fail_execution(kids[i].id, 1, f'{{"i": {i}}}', T0 + 3)
        return await store.complete_execution(kids[i].id, 1, f'"kid-{i}"', T0 + 3)

    assert await asyncio.gather(*(end(i) for i in range(len(kids)))) == [True] * len(kids)
    row = await store.get_execution(parent.execution.id)
    assert row is not None and (row.status, row.pending_children) == ("queued", 0)
    [output] = [s for s in await store.list_steps(parent.execution.id) if s.step_key == "fan_out"]
    assert output.output is not None
    outcomes = orjson.loads(output.output)
    assert [o["success"] for o in outcomes] == [i % 3 != 0 for i in range(len(kids))]
    assert [o["result"] for o in outcomes if o["success"]] == [
        f"kid-{i}" for i in range(len(kids)) if i % 3
    ]
    assert (await events_of(store, parent.execution.id)).count("resumed") <= 1


async def test_a_stale_attempt_is_refused_while_the_others_in_its_batch_finish(
    store: Store,
) -> None:
    runs = [await running(store, f"wf-{i}") for i in range(8)]
    calls = [
        store.complete_execution(c.execution.id, 2 if i == 5 else 1, f'"r{i}"', T0 + 2)
        for i, c in enumerate(runs)
    ]
    assert await asyncio.gather(*calls) == [i != 5 for i in range(8)]
    for i, c in enumerate(runs):
        row = await store.get_execution(c.execution.id)
        assert row is not None
        assert row.status == ("running" if i == 5 else "completed"), i
        assert row.result == (None if i == 5 else f'"r{i}"')


async def test_a_result_the_database_refuses_fails_only_its_own_caller(
    store: Store, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite stores a NUL character; only PostgreSQL's text refuses it")
    runs = [await running(store, f"wf-{i}") for i in range(6)]
    calls = [
        store.complete_execution(c.execution.id, 1, '"bad\x00"' if i == 2 else f'"r{i}"', T0 + 2)
        for i, c in enumerate(runs)
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(outcomes[2], Exception), outcomes
    assert [o for i, o in enumerate(outcomes) if i != 2] == [True] * 5
    for i, c in enumerate(runs):
        row = await store.get_execution(c.execution.id)
        assert row is not None and row.status == ("running" if i == 2 else "completed"), i


async def test_steps_and_ends_of_one_moment_are_each_fenced(store: Store) -> None:
    # Step records and run ends arriving together (on PostgreSQL one batch, one
    # statement): each stands or is refused on its own attempt.
    runs = [await running(store, f"wf-{i}") for i in range(8)]
    stale = {2, 5}  # a step and an end of a former attempt: refused, the others written

    async def write(i: int) -> bool:
        attempt = 2 if i in stale else 1
        run_id = runs[i].execution.id
        if i % 2:
            return await store.complete_execution(run_id, attempt, f'"r{i}"', T0 + 2)
        return await store.record_step(run_id, attempt, step(f"s{i}", attempt))

    assert await asyncio.gather(*(write(i) for i in range(8))) == [i not in stale for i in range(8)]
    for i, c in enumerate(runs):
        row = await store.get_execution(c.execution.id)
        steps = [s.step_key for s in await store.list_steps(c.execution.id)]
        assert row is not None
        if i % 2:
            assert row.status == ("running" if i in stale else "completed"), i
            assert row.result == (None if i in stale else f'"r{i}"'), i
        else:
            assert row.status == "running", i
            assert steps == ([] if i in stale else [f"s{i}"]), i


async def test_a_runs_last_step_and_its_end_together_both_land(store: Store) -> None:
    runs = [await running(store, f"wf-{i}") for i in range(3)]
    ids = [c.execution.id for c in runs]
    outcomes = await asyncio.gather(
        store.record_step(ids[0], 1, step("a", 1)),
        store.record_step(ids[1], 1, step("b", 1)),  # a stray task's step ...
        store.complete_execution(ids[1], 1, '"done"', T0 + 2),  # ... and its run's end
        store.complete_execution(ids[2], 1, '"done"', T0 + 2),
    )
    assert outcomes == [True] * 4
    assert [s.step_key for s in await store.list_steps(ids[1])] == ["b"]
    for run_id in ids[1:]:
        row = await store.get_execution(run_id)
        assert row is not None and row.status == "completed"
