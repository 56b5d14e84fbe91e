"""One way to submit runs, for a client's ``invoke`` and a workflow's children.

Both turn ``BatchWorkflowInput`` items into execution rows the same way, so
what one refuses the other refuses too: the payload must pass the
workflow's payload model (when this process defines it), ``initial_state``
its state model, ``run_timeout_seconds`` must be positive and at most 100
years, the queue is resolved (a name, a ``Queue`` or a dict; else the
workflow's own, or left to the claiming worker when the workflow is defined
elsewhere), ``priority`` is an integer and ``concurrency_key`` a string.
Everything is checked and encoded before the first read of the store, and
nothing is written here: the caller writes the rows in its own transaction
(``create_executions``, or ``start_children`` with the parent's step).

A child also inherits from its parent: the run tree's root, its session and
user (unless it names its own), and its deployment.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import serialization
from ..durations import timeout_seconds, utc_datetime
from ..store import Store
from ..store.records import ExecutionRow, NewExecution
from ..types import BatchWorkflowInput, ExecutionHandle
from . import definition as registry
from . import queues
from .clock import Clock
from .queues import Queue, ensure_in_store


@dataclass(frozen=True, slots=True)
class Parent:
    """The run that starts children, and the step that starts them."""

    row: ExecutionRow
    step_key: str


async def prepare_executions(
    store: Store,
    items: Sequence[BatchWorkflowInput],
    *,
    clock: Clock,
    max_payload_bytes: int,
    deployment_id: str | None = None,
    parent: Parent | None = None,
) -> list[NewExecution]:
    """The rows for ``items``, checked; the store is read, never written
    (except limited queues' definitions, so their limits hold at once).

    A top-level run gets ``deployment_id``; a child runs in its parent's.
    """
    prepared = [
        _new_execution(item, index, clock, max_payload_bytes, deployment_id, parent)
        for index, item in enumerate(items)
    ]
    await registry.check_known(store, [new.workflow_id for new, _ in prepared])
    if parent is not None and parent.row.deployment_id is not None:
        await _unpin_foreign([new for new, _ in prepared], parent.row.deployment_id, store)
    await ensure_in_store(store, [queue for _, queue in prepared if queue is not None])
    return [new for new, _ in prepared]


async def _unpin_foreign(children: list[NewExecution], deployment_id: str, store: Store) -> None:
    """A child runs in its parent's deployment, unless its workflow is served by
    another one: in a mixed fleet a Polos SDK worker and our worker each have a
    deployment of their own, and a child pinned to the other kind's deployment
    would wait for ever. Such a child is left unpinned; the first worker that
    serves it claims it and pins it. Only workflows this process does not define
    are looked up (the store knows which deployment last described each)."""
    foreign = {c.workflow_id for c in children if registry.lookup(c.workflow_id) is None}
    if not foreign:
        return
    served = {s.workflow_id: s.deployment_id for s in await store.served_workflows()}
    for child in children:
        elsewhere = served.get(child.workflow_id)
        if child.workflow_id in foreign and elsewhere not in (None, deployment_id):
            child.deployment_id = None


def handle_of(new: NewExecution, execution_id: str | None = None) -> ExecutionHandle:
    """The handle of a submitted run; ``execution_id`` is the id the store
    returned, another run's when the idempotency key was used before."""
    run_id = execution_id or new.id
    return ExecutionHandle(
        id=run_id,
        workflow_id=new.workflow_id,
        created_at=utc_datetime(new.created_at),
        parent_execution_id=new.parent_execution_id,
        root_workflow_id=new.root_workflow_id or new.workflow_id,
        root_execution_id=new.root_execution_id or run_id,
        session_id=new.session_id,
        user_id=new.user_id,
        step_key=new.step_key,
    )


def _new_execution(
    item: BatchWorkflowInput,
    index: int,
    clock: Clock,
    max_payload_bytes: int,
    deployment_id: str | None,
    parent: Parent | None,
) -> tuple[NewExecution, Queue | None]:
    workflow_id = item.workflow_id
    definition = registry.lookup(workflow_id)
    state = item.initial_state
    if definition is not None:
        definition.coerce_payload(item.payload)  # fail now, before anything is stored
        if state is not None:
            state = definition.initial_state(state)
    run_timeout = timeout_seconds("run_timeout_seconds", item.run_timeout_seconds)
    if item.queue is not None:
        queue: Queue | None = queues.resolve(item.queue, workflow_id)
    else:  # unknown here: the claiming worker assigns the workflow's queue
        queue = definition.queue if definition is not None else None

    def encode(what: str, value: Any) -> str:
        return serialization.dumps_limited(what, value, max_payload_bytes)

    if parent is None:
        where, tree = f"workflow {workflow_id!r}", _Tree(deployment_id=deployment_id)
    else:
        where = f"child {workflow_id!r} at step {parent.step_key!r}"
        tree = _Tree.below(parent, index)
    new = NewExecution(
        id=str(uuid.uuid4()),
        workflow_id=workflow_id,
        payload=encode(f"payload of {where}", item.payload),
        created_at=clock.now(),
        parent_execution_id=tree.parent_execution_id,
        root_execution_id=tree.root_execution_id,
        root_workflow_id=tree.root_workflow_id,
        step_key=tree.step_key,
        session_id=item.session_id or tree.session_id,
        user_id=item.user_id or tree.user_id,
        child_index=tree.child_index,
        run_timeout_seconds=run_timeout,
        state=None if state is None else encode(f"initial_state of {where}", state),
        queue_name=queue.name if queue is not None else "",
        concurrency_key=_concurrency_key(item.concurrency_key),
        priority=_priority(item.priority),
        idempotency_key=item.idempotency_key,
        deployment_id=tree.deployment_id,
    )
    return new, queue


@dataclass(frozen=True, slots=True)
class _Tree:
    """Where a new run sits in its run tree (a top-level run: nowhere yet)."""

    parent_execution_id: str | None = None
    root_execution_id: str | None = None
    root_workflow_id: str | None = None
    step_key: str | None = None
    child_index: int | None = None
    session_id: str | None = None
    user_id: str | None = None
    deployment_id: str | None = None

    @classmethod
    def below(cls, parent: Parent, index: int) -> _Tree:
        row = parent.row
        return cls(
            parent_execution_id=row.id,
            root_execution_id=row.root_execution_id or row.id,
            root_workflow_id=row.root_workflow_id or row.workflow_id,
            step_key=parent.step_key,
            child_index=index,
            session_id=row.session_id,
            user_id=row.user_id,
            deployment_id=row.deployment_id,
        )


def _concurrency_key(value: str | None) -> str:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"concurrency_key must be a string, got {value!r}")
    return value or ""


def _priority(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"priority must be an integer, got {value!r}")
    return value
