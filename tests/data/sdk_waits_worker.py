"""polos-sdk 0.1.15 workflows that wait, for tests/test_polos_sdk_waits.py (SDK venv only).

Each step body appends a line to a counter file in ``SDK_TEST_DIR``, so the test
can tell a step that ran again from one that was replayed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sdk_worker_boot import run_worker

from polos import BatchWorkflowInput, WorkflowContext, workflow

COUNTS = Path(os.environ.get("SDK_TEST_DIR", "."))


def bump(name: str) -> int:
    """Count one run of step body ``name``; returns how many so far."""
    path = COUNTS / f"{name}.count"
    with path.open("a") as f:
        f.write("x\n")
    return len(path.read_text().splitlines())


@workflow(id="sdkw_nap")
async def nap(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    before = await ctx.step.run("before", bump, "nap_before")
    await ctx.step.wait_for("nap", seconds=payload["seconds"])
    after = await ctx.step.run("after", bump, "nap_after")
    return {"before": before, "after": after}


@workflow(id="sdkw_event")
async def event_waiter(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    await ctx.step.run("before", bump, f"event_before_{payload['topic']}")
    event = await ctx.step.wait_for_event("ev", topic=payload["topic"])
    await ctx.step.publish_event("done", payload["topic"] + "/done", {"got": event.data})
    return {"data": event.data, "topic": event.topic, "type": event.event_type}


@workflow(id="sdkw_event_timeout")
async def event_timeout(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        await ctx.step.wait_for_event("ev", topic=payload["topic"], timeout=2)
    except Exception as exc:  # the expired wait, raised when the run replays
        return {"timed_out": f"{type(exc).__name__}: {exc}"}
    return {"timed_out": None}


@workflow(id="sdkw_publish")
async def publisher(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Publishes from a workflow step: a run waiting on the topic wakes."""
    await ctx.step.publish_event("tell", payload["topic"], {"from": "sdk"}, "told")
    return {"published": True}


@workflow(id="sdkw_suspend")
async def suspender(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    await ctx.step.run("before", bump, f"suspend_before_{payload['tag']}")
    resumed = await ctx.step.suspend("approve", data={"amount": payload["amount"]})
    return {"resumed": resumed["data"], "type": resumed["event_type"]}


@workflow(id="sdkw_child")
async def child(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("fail"):
        raise ValueError(f"child {payload['n']} refuses")
    return {"doubled": payload["n"] * 2}


@workflow(id="sdkw_parent")
async def parent(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    await ctx.step.run("before", bump, f"parent_before_{payload['tag']}")
    target = payload.get("child", "sdkw_child")
    got = await ctx.step.invoke_and_wait("child", target, {"n": payload["n"]})
    return {"child": got}


@workflow(id="sdkw_batch")
async def batch(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    items = [
        BatchWorkflowInput(id="sdkw_child", payload={"n": n, "fail": n == payload.get("fail")})
        for n in payload["ns"]
    ]
    results = await ctx.step.batch_invoke_and_wait("fan", items)
    return {
        "results": [r.result if r.success else None for r in results],
        "errors": [r.error for r in results],
    }


@workflow(id="ours_double")
async def ours_double(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Served by one of OUR workers, not this one. The SDK looks a child up in its own
    process's registry before it submits it, so it must be declared here too."""
    raise RuntimeError("ours_double runs on a polos worker, never on this SDK worker")


if __name__ == "__main__":
    served = [nap, event_waiter, event_timeout, publisher, suspender, child, parent, batch]
    run_worker(workflows=served)
