"""polos-sdk 0.1.15 workflows whose children return a pydantic model, for
tests/test_polos_sdk_waits.py: the parent waits for one child (invoke_and_wait)
or a batch (batch_invoke_and_wait) and says what it got back."""

from typing import Any

from sdk_models import Receipt
from sdk_worker_boot import run_worker

from polos import BatchWorkflowInput, WorkflowContext, workflow


@workflow(id="sdkm_receipt")
async def receipt(ctx: WorkflowContext, payload: dict[str, Any]) -> Receipt:
    return Receipt(order=payload["order"], total=payload["total"], items=["tea"])


@workflow(id="sdkm_plain")
async def plain(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {"order": payload["order"]}


def described(got: Any) -> dict[str, Any]:
    if isinstance(got, Receipt):
        return {"type": "Receipt", "total": got.total, "items": got.items}
    return {"type": type(got).__name__, "value": got}


@workflow(id="sdkm_parent")
async def parent(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    got = await ctx.step.invoke_and_wait("receipt", "sdkm_receipt", payload)
    return described(got)


@workflow(id="sdkm_batch")
async def batch(ctx: WorkflowContext, payload: dict[str, Any]) -> list[dict[str, Any]]:
    results = await ctx.step.batch_invoke_and_wait(
        "fan",
        [
            BatchWorkflowInput(id="sdkm_receipt", payload=payload),
            BatchWorkflowInput(id="sdkm_plain", payload=payload),
        ],
    )
    return [described(r.result) for r in results]


if __name__ == "__main__":
    run_worker(workflows=[receipt, plain, parent, batch])
