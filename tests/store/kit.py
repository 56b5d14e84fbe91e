"""Helpers of the store contract: records and starting points, nothing else."""

from __future__ import annotations

import time
import uuid

import orjson

from polos.store import Claimed, NewExecution, StepRow, Store
from polos.store.records import NewEvent

#: A time base for the tests: every store method takes ``now``, so tests pass
#: times explicitly and never sleep.
T0 = float(int(time.time()))


def new_execution(workflow_id: str = "wf", at: float = T0, **fields: object) -> NewExecution:
    return NewExecution(str(uuid.uuid4()), workflow_id, '{"in": 1}', at, **fields)  # type: ignore[arg-type]


def step(
    key: str, attempt: int, output: str = '"out"', at: float = T0 + 1, **fields: object
) -> StepRow:
    return StepRow(key, "run", "fn", output, None, attempt, at, **fields)  # type: ignore[arg-type]


def event(topic: str, data: str = '{"n": 1}', at: float = T0) -> NewEvent:
    return NewEvent(str(uuid.uuid4()), topic, "test", data, at)


async def running(
    store: Store, workflow_id: str = "wf", worker: str = "w1", at: float = T0, **fields: object
) -> Claimed:
    """A fresh execution claimed by ``worker`` (attempt 1).

    No other execution of ``workflow_id`` may be queued (the claim takes one).
    """
    new = new_execution(workflow_id, at, **fields)
    await store.create_execution(new)
    [claimed] = await store.claim(worker, [workflow_id], 1, at + 0.5, 30.0)
    assert claimed.execution.id == new.id
    return claimed


async def events_of(store: Store, execution_id: str) -> list[str]:
    return [h.event for h in await store.list_history(execution_id)]


def children(
    parent: Claimed, step_key: str, count: int, workflow_id: str = "kid"
) -> list[NewExecution]:
    p = parent.execution
    root = p.root_execution_id or p.id
    return [
        NewExecution(
            str(uuid.uuid4()),
            workflow_id,
            orjson.dumps({"i": i}).decode(),
            T0 + 1 + i * 0.01,
            parent_execution_id=p.id,
            root_execution_id=root,
            root_workflow_id=p.root_workflow_id or p.workflow_id,
            step_key=step_key,
            child_index=i,
        )
        for i in range(count)
    ]


async def claim_all(store: Store, workflow_id: str, now: float = T0 + 2) -> dict[str, Claimed]:
    return {c.execution.id: c for c in await store.claim("w", [workflow_id], 100, now, 30.0)}
