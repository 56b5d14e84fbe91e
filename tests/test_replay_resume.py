"""Runs that are not held in memory (``hold_seconds=0``) replay from the top on
every resume. Two things about that resume, on both backends, through the
public API:

* a child finishing on the worker where its parent parked takes the parent
  back in its own transaction, with the parent's recorded steps (a store with
  ``resumes_with_steps``: SQLite); elsewhere the parent is requeued and claimed.
  Either way the code between steps runs again and the answers are the same;
* an attempt that is over keeps no recorded steps alive through a context
  copied while it ran (an HTTP client's cancelled timer keeps one for minutes).
"""

from __future__ import annotations

import contextvars

from polos import Polos, WorkflowContext, workflow
from polos.engine.run import current_run

BODY_RUNS: list[int] = []
CONTEXTS: list[contextvars.Context] = []


@workflow(id="replay_kid")
async def replay_kid(ctx: WorkflowContext, n: int) -> int:
    return n * 10


@workflow(id="replay_parent")
async def replay_parent(ctx: WorkflowContext) -> list[int]:
    BODY_RUNS.append(ctx.attempt)  # plain code: runs again on every replay
    CONTEXTS.append(contextvars.copy_context())
    got = []
    for i in range(3):
        got.append(await ctx.step.invoke_and_wait(f"kid_{i}", replay_kid, i))
    return [*got, ctx.attempt]


async def test_a_parent_let_go_replays_each_resume_and_may_ride_its_childs_completion(
    database_url: str,
) -> None:
    BODY_RUNS.clear()
    CONTEXTS.clear()
    async with Polos(
        database_url=database_url, workflows=[replay_parent, replay_kid], hold_seconds=0
    ) as polos:
        claims: list[str] = []
        store = polos.store
        claim = store.claim

        async def counting_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
            taken = await claim(*args, **kwargs)
            claims.extend(c.execution.id for c in taken)
            return taken

        store.claim = counting_claim  # type: ignore[method-assign]
        handle = await replay_parent.invoke(polos)
        assert await handle.result(timeout=20) == [0, 10, 20, 4]
        info = await handle.get()
        fused = store.resumes_with_steps
    assert BODY_RUNS == [1, 2, 3, 4], "let go after each wait: replayed from the top each time"
    assert [s.step_key for s in info.steps] == ["kid_0", "kid_1", "kid_2"]
    assert [e.event for e in info.history].count("waiting") == 3
    claimed = [e for e in info.history if e.event == "claimed"]
    assert [e.attempt for e in claimed] == [1, 2, 3, 4]
    resumes = [(e.detail or {}).get("eager") is True for e in claimed[1:]]
    if fused:
        assert resumes == [True, True, True], "each resume rode its child's completion"
        assert handle.id not in claims, "the claim loop never took it"
    else:
        assert resumes == [False, False, False]
        assert claims.count(handle.id) == 3
    # Every attempt is over: a context copied while one ran keeps no steps of it.
    assert len(CONTEXTS) == 4
    for copied in CONTEXTS:
        run = copied.get(current_run)
        assert run is not None and run.recorded == {}
