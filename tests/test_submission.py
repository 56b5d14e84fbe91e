"""One submission path: a client's invoke and a workflow's child steps check
the same options the same way, and stamp runs with the engine's clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from polos import Polos, PolosClient, WorkflowContext, workflow
from polos.store import ServedWorkflow


class Order(BaseModel):
    item: str


class Basket(BaseModel):
    items: list[str] = []


@workflow(id="sub_target", state_schema=Basket)
async def sub_target(ctx: WorkflowContext, order: Order) -> str:
    return order.item


@workflow(id="sub_parent")
async def sub_parent(ctx: WorkflowContext, options: dict[str, Any]) -> dict[str, str]:
    """Starts a child with ``options`` and reports what that raised, if anything."""
    target = options.pop("workflow", "sub_target")
    try:
        await ctx.step.invoke("child", target, **options)
    except Exception as exc:
        return {"type": type(exc).__name__, "message": str(exc)}
    return {}


BAD_OPTIONS: list[dict[str, Any]] = [
    {"payload": {"item": "x"}, "run_timeout_seconds": 0},
    {"payload": {"item": "x"}, "run_timeout_seconds": -1},
    {"payload": {"item": "x"}, "run_timeout_seconds": 1e18},
    {"payload": {"nothing": "here"}},
    {"payload": {"item": "x"}, "initial_state": {"items": "not a list"}},
    {"payload": {"item": "x"}, "queue": {"concurrency_limit": 0}},
    {"payload": {"item": "x"}, "workflow": "sub_nobody_serves_this"},
]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: ",".join(o))
async def test_the_client_and_a_child_step_refuse_the_same_options_alike(
    polos: Polos, options: dict[str, Any]
) -> None:
    client_options = dict(options)
    workflow_id = client_options.pop("workflow", "sub_target")
    payload = client_options.pop("payload")
    with pytest.raises(Exception) as by_client:
        await polos.invoke(workflow_id, payload, **client_options)
    by_child = await sub_parent.run(polos, dict(options), timeout=15)
    assert by_child == {"type": type(by_client.value).__name__, "message": str(by_client.value)}


@workflow(id="sub_elsewhere_parent")
async def sub_elsewhere_parent(ctx: WorkflowContext) -> str:
    handle = await ctx.step.invoke("child", "sub_elsewhere", None, initial_state={"n": 1})
    return handle.id


async def test_initial_state_for_a_workflow_defined_elsewhere_is_kept_on_both_paths(
    polos: Polos,
) -> None:
    store = polos.client.store
    await store.register_workflows([ServedWorkflow("sub_elsewhere", "sub_elsewhere")], time.time())
    by_client = await polos.invoke("sub_elsewhere", None, initial_state={"n": 1})
    by_child = await sub_elsewhere_parent.run(polos, timeout=15)
    for execution_id in (by_client.id, by_child):
        row = await store.get_execution(execution_id)
        assert row is not None and row.initial_state == '{"n":1}'


class _Ahead:
    """A clock an hour ahead of the system's: what the engine stamps, it stamps."""

    def now(self) -> float:
        return time.time() + 3600


@workflow(id="sub_clock_parent")
async def sub_clock_parent(ctx: WorkflowContext) -> str:
    handle = await ctx.step.invoke("child", sub_target, {"item": "x"})
    return handle.id


@pytest.fixture
async def ahead(database_url: str) -> AsyncIterator[Polos]:
    p = Polos(
        database_url=database_url,
        workflows=[sub_clock_parent, sub_target],
        clock=_Ahead(),
        hold_seconds=0,
        poll_interval=0.05,
    )
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def test_runs_are_stamped_with_the_engines_clock_on_both_paths(ahead: Polos) -> None:
    handle = await sub_clock_parent.invoke(ahead)
    child_id = await handle.result(ahead, timeout=15)
    later = time.time() + 3000
    for execution_id in (handle.id, child_id):
        row = await ahead.client.store.get_execution(execution_id)
        assert row is not None and row.created_at > later
    assert isinstance(ahead.client, PolosClient) and ahead.client.clock is ahead.worker.clock  # type: ignore[union-attr]
