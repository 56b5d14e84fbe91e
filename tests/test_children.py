"""Child workflows: invoke, invoke_and_wait, batches, failures, trees, timeouts."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from polos import (
    BatchStepResult,
    BatchWorkflowInput,
    ChildWorkflowError,
    ExecutionCancelledError,
    Polos,
    PolosClient,
    WorkflowContext,
    WorkflowFailedError,
    batch_invoke,
    workflow,
)
from polos.store import ServedWorkflow

CALLS: list[str] = []


class ChildInput(BaseModel):
    message: str


class ChildOutput(BaseModel):
    echoed: str


async def note(tag: str) -> str:
    CALLS.append(tag)
    return tag


@workflow(id="kids_child")
async def kids_child(ctx: WorkflowContext, input: ChildInput) -> ChildOutput:
    await ctx.step.run("echo", note, f"child:{input.message}")
    return ChildOutput(echoed=input.message.upper())


@workflow(id="kids_failing_child")
async def kids_failing_child(ctx: WorkflowContext, input: dict[str, str]) -> None:
    raise ValueError(f"bad input {input['x']}")


@workflow(id="kids_parent")
async def kids_parent(ctx: WorkflowContext, input: ChildInput) -> dict[str, object]:
    await ctx.step.run("before", note, "parent:before")
    result = await ctx.step.invoke_and_wait(
        "call_child", kids_child, ChildInput(message=input.message)
    )
    await ctx.step.run("after", note, "parent:after")
    return {"result": result, "parent": ctx.execution_id}


async def test_invoke_and_wait_returns_child_result_and_replays_once(polos: Polos) -> None:
    CALLS.clear()
    out = await kids_parent.run(polos, {"message": "hello"}, timeout=20)
    assert out["result"] == ChildOutput(echoed="HELLO")
    # The parent replayed after the child finished; recorded steps ran once.
    assert CALLS == ["parent:before", "child:hello", "parent:after"]
    parent = await polos.get_execution(str(out["parent"]))
    assert [s.step_key for s in parent.steps] == ["before", "call_child", "after"]
    children = [
        e
        for e in await polos.list_executions(workflow_id="kids_child")
        if e.parent_execution_id == parent.id
    ]
    assert len(children) == 1
    child = children[0]
    assert (child.root_execution_id, child.root_workflow_id, child.step_key) == (
        parent.id,
        "kids_parent",
        "call_child",
    )


@workflow(id="kids_catcher")
async def kids_catcher(ctx: WorkflowContext) -> str:
    try:
        await ctx.step.invoke_and_wait("fails", kids_failing_child, {"x": "42"})
    except ChildWorkflowError as exc:
        return f"caught {exc.error_type}: {exc.error['message']}"
    return "not caught"


async def test_failed_child_surfaces_as_catchable_error(polos: Polos) -> None:
    assert await kids_catcher.run(polos, timeout=20) == "caught ValueError: bad input 42"


@workflow(id="kids_fan_out")
async def kids_fan_out(ctx: WorkflowContext, input: dict[str, int]) -> list[BatchStepResult]:
    items = [
        BatchWorkflowInput(id="kids_child", payload={"message": f"m{i}"}) for i in range(input["n"])
    ]
    items.insert(1, BatchWorkflowInput(id=kids_failing_child, payload={"x": "boom"}))
    return await ctx.step.batch_invoke_and_wait("fan", items)


async def test_batch_invoke_and_wait_keeps_input_order(polos: Polos) -> None:
    results = await kids_fan_out.run(polos, {"n": 5}, timeout=30)
    assert len(results) == 6
    assert [r.success for r in results] == [True, False, True, True, True, True]
    assert results[1].error is not None and results[1].error["type"] == "ValueError"
    assert [r.result.echoed for r in results if r.success] == ["M0", "M1", "M2", "M3", "M4"]
    assert [r.workflow_id for r in results][:2] == ["kids_child", "kids_failing_child"]


@workflow(id="kids_fire_and_forget")
async def kids_fire_and_forget(ctx: WorkflowContext) -> list[str]:
    one = await ctx.step.invoke("one", kids_child, {"message": "a"})
    many = await ctx.step.batch_invoke(
        "many", [BatchWorkflowInput(id="kids_child", payload={"message": "b"})]
    )
    await ctx.step.wait_for("nap", seconds=0.1)  # replay: the handles come from the record
    return [one.id, *[h.id for h in many]]


async def test_invoke_without_waiting_returns_handles(polos: Polos) -> None:
    ids = await kids_fire_and_forget.run(polos, timeout=20)
    assert len(ids) == 2
    results = [await polos.wait_for_result(i, timeout=20) for i in ids]
    assert results == [ChildOutput(echoed="A"), ChildOutput(echoed="B")]


@workflow(id="kids_sleeping_child")
async def kids_sleeping_child(ctx: WorkflowContext) -> str:
    await ctx.step.wait_for("long", hours=1)
    return "woke"


@workflow(id="kids_tree")
async def kids_tree(ctx: WorkflowContext) -> object:
    return await ctx.step.invoke_and_wait("child", kids_sleeping_child)


async def test_cancelling_a_parent_cancels_its_children(polos: Polos) -> None:
    handle = await kids_tree.invoke(polos)
    child_id = None
    while child_id is None:
        kids = [
            e
            for e in await polos.list_executions(workflow_id="kids_sleeping_child")
            if e.parent_execution_id == handle.id
        ]
        child_id = kids[0].id if kids and kids[0].status == "waiting" else None
        await asyncio.sleep(0.02)
    await polos.cancel_execution(handle.id)
    assert (await polos.get_execution(child_id)).status == "cancelled"
    with pytest.raises(ExecutionCancelledError):
        await handle.result(polos, timeout=5)


async def test_run_timeout_fails_the_run_and_cancels_children(polos: Polos) -> None:
    handle = await kids_tree.invoke(polos, run_timeout_seconds=0.5)
    with pytest.raises(WorkflowFailedError) as failure:
        await handle.result(polos, timeout=10)
    assert failure.value.error["type"] == "WorkflowTimeoutError"
    kids = [
        e
        for e in await polos.list_executions(workflow_id="kids_sleeping_child")
        if e.parent_execution_id == handle.id
    ]
    assert [k.status for k in kids] == ["cancelled"]


async def test_client_batch_invoke(polos: Polos) -> None:
    handles = await batch_invoke(
        polos,
        [BatchWorkflowInput(id="kids_child", payload={"message": str(i)}) for i in range(3)],
    )
    assert [await h.result(timeout=10) for h in handles] == [
        ChildOutput(echoed=str(i)) for i in range(3)
    ]


@workflow(id="kids_thousand")
async def kids_thousand(ctx: WorkflowContext, input: dict[str, int]) -> int:
    items = [BatchWorkflowInput(id="kids_leaf", payload=i) for i in range(input["n"])]
    results = await ctx.step.batch_invoke_and_wait("fan", items)
    return sum(r.result for r in results)


@workflow(id="kids_leaf")
async def kids_leaf(ctx: WorkflowContext, input: int) -> int:
    return input * 2


async def test_fan_out_of_a_thousand_children(polos: Polos) -> None:
    assert await kids_thousand.run(polos, {"n": 1000}, timeout=120) == sum(
        i * 2 for i in range(1000)
    )


@workflow(id="kids_unknown_child")
async def kids_unknown_child(ctx: WorkflowContext) -> str:
    try:
        await ctx.step.invoke_and_wait("ghost", "kids_no_such_workflow", {})
    except Exception as exc:
        return type(exc).__name__
    return "started"


async def test_unknown_workflow_ids_are_refused(polos: Polos) -> None:
    from polos import WorkflowNotFoundError

    with pytest.raises(WorkflowNotFoundError, match="kids_no_such_workflow"):
        await polos.invoke("kids_no_such_workflow", {})
    assert await polos.list_executions(workflow_id="kids_no_such_workflow") == []
    assert await kids_unknown_child.run(polos, timeout=10) == "WorkflowNotFoundError"
    # A workflow some worker served on this database is known to any client.
    async with PolosClient(database_url=polos.database_url) as client:
        await client.store.register_workflows([ServedWorkflow("kids_remote", "kids_remote")], 0.0)
        handle = await client.invoke("kids_remote", {})
        assert (await client.get_execution(handle.id)).status == "queued"
        await handle.cancel(client)


async def test_a_served_workflow_is_looked_up_once_per_client(polos: Polos) -> None:
    """A client submitting runs of a workflow it does not define asks the
    database whether some worker served it; a yes is kept (a served workflow
    is never forgotten), a no is asked again (a worker may serve it later)."""
    from polos import WorkflowNotFoundError

    async with PolosClient(database_url=polos.database_url) as client:
        store = client.store
        asked: list[list[str]] = []
        known_workflows = store.known_workflows

        async def counting(workflow_ids):  # type: ignore[no-untyped-def]
            asked.append(list(workflow_ids))
            return await known_workflows(workflow_ids)

        store.known_workflows = counting  # type: ignore[method-assign]
        for _ in range(2):
            with pytest.raises(WorkflowNotFoundError, match="kids_later"):
                await client.invoke("kids_later", {})
        assert asked == [["kids_later"], ["kids_later"]], "a no is never kept"
        await store.register_workflows([ServedWorkflow("kids_later", "kids_later")], 0.0)
        handles = [await client.invoke("kids_later", {"n": i}) for i in range(3)]
        assert asked == [["kids_later"]] * 3, "once served, it is not asked for again"
        assert [(await client.get_execution(h.id)).status for h in handles] == ["queued"] * 3
        for handle in handles:
            await handle.cancel(client)


@workflow(id="kids_slow_child")
async def kids_slow_child(ctx: WorkflowContext) -> str:
    await ctx.step.wait_for("slow", seconds=1.0)
    return "late"


@workflow(id="kids_impatient")
async def kids_impatient(ctx: WorkflowContext) -> str:
    from polos import WaitTimeoutError

    try:
        await ctx.step.invoke_and_wait("slow_child", kids_slow_child, timeout=0.2)
    except WaitTimeoutError:
        await ctx.step.wait_for("then", seconds=0.05)  # a replay raises the recorded timeout again
        return "gave up"
    return "waited"


async def test_waiting_on_children_can_time_out(polos: Polos) -> None:
    handle = await kids_impatient.invoke(polos)
    assert await handle.result(timeout=10) == "gave up"
    [child] = [
        e
        for e in await polos.list_executions(workflow_id="kids_slow_child")
        if e.parent_execution_id == handle.id
    ]
    assert await polos.wait_for_result(child.id, timeout=10) == "late"  # the child went on
    assert (await handle.get()).status == "completed"
