"""Workflows whose code changes under running executions (tests/test_versioning*.py).

The code version is ``CODE[tag]`` in this process (in-process tests switch it
between runs), else ``POLOS_TEST_CODE`` (worker processes, one version each).
Every step appends what it did to the file ``payload["log"]``, so a test sees
which side effects ran, and how often, from any process.
"""

from __future__ import annotations

import os
from typing import Any

from polos import WorkflowContext, workflow

CODE: dict[str, str] = {}


def code_of(tag: str) -> str:
    return CODE.get(tag) or os.environ.get("POLOS_TEST_CODE", "v1")


def record(log: str, what: str) -> str:
    with open(log, "a") as f:
        f.write(what + "\n")
    return what


@workflow(id="ver_pricing")
async def ver_pricing(ctx: WorkflowContext, p: dict[str, str]) -> dict[str, Any]:
    """v1 prices with "price"; v2 prices new runs with "price_v2" behind a patch.
    v3 dropped the old branch (deprecate_patch)."""
    log, tag = p["log"], p["tag"]
    code = code_of(tag)
    if code == "v3":
        await ctx.deprecate_patch("new-pricing")
        price = await ctx.step.run("price_v2", record, log, "price_v2")
    elif code == "v2" and await ctx.patched("new-pricing"):
        price = await ctx.step.run("price_v2", record, log, "price_v2")
    else:
        price = await ctx.step.run("price", record, log, "price")
    await ctx.step.wait_for_event("approval", topic=f"ver/{tag}/{ctx.execution_id}")
    charged = await ctx.step.run("charge", record, log, f"charge:{price}")
    return {"price": price, "charged": charged, "code": code}


@workflow(id="ver_rename")
async def ver_rename(ctx: WorkflowContext, p: dict[str, str]) -> str:
    """v2 renamed the key of the "notify" step (a mistake the replay reports)."""
    log, tag = p["log"], p["tag"]
    key = "notify_customer" if code_of(tag) == "v2" else "notify"
    await ctx.step.run(key, record, log, "notify")
    await ctx.step.wait_for_event("go", topic=f"ver/{tag}/{ctx.execution_id}")
    return "done"


@workflow(id="ver_patch_twice")
async def ver_patch_twice(ctx: WorkflowContext, p: dict[str, str]) -> list[bool]:
    """Asks the same patch twice, and one more after a wait."""
    first = await ctx.patched("p1")
    await ctx.step.wait_for("nap", seconds=0.05)
    later = await ctx.patched("p2")
    return [first, later]


@workflow(id="ver_patch_unawaited")
async def ver_patch_unawaited(ctx: WorkflowContext, p: dict[str, str]) -> str:
    if ctx.patched("oops"):  # type: ignore[truthy-bool]  # the mistake under test
        return "new"
    return "old"


@workflow(id="ver_patch_in_branch")
async def ver_patch_in_branch(ctx: WorkflowContext, p: dict[str, str]) -> Any:
    import asyncio

    async def branch() -> bool:
        return await ctx.patched("in-branch")

    return await asyncio.gather(branch(), ctx.step.uuid("u"))
