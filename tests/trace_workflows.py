"""A child workflow served by a worker process of its own (tests/test_tracing.py)."""

from __future__ import annotations

from polos import WorkflowContext, workflow


@workflow(id="tr_remote_child")
async def tr_remote_child(ctx: WorkflowContext, payload: dict[str, int]) -> int:
    return await ctx.step.run("triple", lambda n: n * 3, payload["n"])  # type: ignore[no-any-return]
