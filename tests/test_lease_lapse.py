"""A worker whose lease lapsed starts no new step (found by bench/chaos.py).

A worker paused past its lease (SIGSTOP, a frozen VM, a loop blocked by CPU)
may wake up to a reply that its last step was recorded, while another worker
has taken the run over and recorded the next steps already. Fencing refuses
the zombie's records, but a step it *starts* still runs its side effects. So
each run knows until when its lease surely holds (from the claim or the last
renewing heartbeat) and, past that, stops before its next step; the run
resumes on a later attempt, which replays what was recorded.
"""

from __future__ import annotations

import time

from polos import Polos, WorkflowContext, workflow
from polos.engine.run import current_run

CALLS: list[tuple[str, int]] = []


async def lapse_a(attempt: int) -> str:
    CALLS.append(("a", attempt))
    return "a"


async def lapse_b(attempt: int) -> str:
    CALLS.append(("b", attempt))
    return "b"


@workflow(id="lease_lapse_wf")
async def lease_lapse_wf(ctx: WorkflowContext) -> str:
    await ctx.step.run("a", lapse_a, ctx.attempt)
    if ctx.attempt == 1:
        # As if the worker had been paused here until well past its lease.
        run = current_run.get()
        assert run is not None
        run.lease_until = time.monotonic() - 1.0
    await ctx.step.run("b", lapse_b, ctx.attempt)
    return "done"


async def test_a_run_past_its_lease_stops_before_its_next_step(database_url: str) -> None:
    CALLS.clear()
    async with Polos(
        database_url=database_url,
        workflows=[lease_lapse_wf],
        lease_seconds=1.0,
        poll_interval=0.05,
        hold_seconds=0,
    ) as polos:
        handle = await polos.invoke(lease_lapse_wf)
        assert await handle.result(polos, timeout=30) == "done"
        info = await polos.get_execution(handle.id)
    assert CALLS == [("a", 1), ("b", 2)], "b never starts on the lapsed attempt"
    steps = {s.step_key: s.attempt for s in info.steps}
    assert steps == {"a": 1, "b": 2}
    assert "lease_expired" in [e.event for e in info.history]
