"""polos-sdk 0.1.15 workflows for tests/test_polos_sdk_worker.py (SDK venv only).

Each step body appends a line to a counter file in ``SDK_TEST_DIR``, so the test
can tell a step that ran again from one that was replayed. A step told to
``hold`` waits until the file ``<tag>.go`` exists: the test kills the worker
while it waits.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sdk_worker_boot import run_worker

from polos import WorkflowContext, workflow

DIR = Path(os.environ.get("SDK_TEST_DIR", "."))


class Receipt(BaseModel):
    tag: str
    total: int


def bump(name: str) -> int:
    """Count one run of step body ``name``; returns how many so far."""
    path = DIR / f"{name}.count"
    with path.open("a") as f:
        f.write("x\n")
    return len(path.read_text().splitlines())


async def held(tag: str) -> int:
    (DIR / f"{tag}.waiting").touch()  # the test may now kill the worker or the server
    flag = DIR / f"{tag}.go"
    while not flag.exists():
        await asyncio.sleep(0.05)
    return bump(f"{tag}_two")


def receipt(tag: str, n: int) -> Receipt:
    return Receipt(tag=tag, total=n * 3)


@workflow(id="sdkc_steps")
async def steps(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    tag = payload["tag"]
    one = await ctx.step.run("one", bump, f"{tag}_one")
    if payload.get("hold"):
        two = await ctx.step.run("two", held, tag)
    else:
        two = await ctx.step.run("two", bump, f"{tag}_two")
    three = await ctx.step.run("three", receipt, tag, payload["n"])
    return {
        "one": one,
        "two": two,
        "total": three.total,
        "rebuilt": type(three).__name__,
        "deployment_id": ctx.deployment_id,
        "pid": os.getpid(),
    }


@workflow(id="sdkc_model")
async def model_result(ctx: WorkflowContext, payload: dict[str, Any]) -> Receipt:
    return receipt(payload["tag"], payload["n"])


@workflow(id="sdkc_cancel")
async def cancellable(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    tag = payload["tag"]
    await ctx.step.run("started", bump, f"{tag}_started")
    try:
        while True:
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        bump(f"{tag}_cancelled")
        raise


@workflow(id="sdkc_fail")
async def failing(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    await ctx.step.run("one", bump, f"{payload['tag']}_one")
    raise ValueError(f"refusing {payload['tag']}")


if __name__ == "__main__":
    run_worker(workflows=[steps, model_result, cancellable, failing])
