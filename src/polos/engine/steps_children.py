"""``ctx.step.invoke*`` and ``batch_invoke*``: child workflows.

Starting children is one fenced transaction with the parent's step: either
the children exist and the step is recorded (or the parent waits for them),
or nothing happened and a replay starts them again. A waiting parent holds no
worker slot; the last child to end records the step's output (every child's
outcome, in input order) and requeues the parent in the same transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from .. import serialization
from ..durations import parse_duration, timeout_seconds
from ..errors import ChildWorkflowError, InvalidPayloadError
from ..store.records import NewExecution
from ..types import BatchStepResult, BatchWorkflowInput, ExecutionHandle
from . import definition as registry
from . import queues
from .queues import Queue, ensure_in_store
from .run import ExecutionRun

Timeout = float | str | timedelta | None


class ChildSteps:
    _run: ExecutionRun

    async def invoke(
        self,
        step_key: str,
        workflow: Any,
        payload: Any = None,
        initial_state: Any = None,
        queue: Any = None,
        concurrency_key: str | None = None,
        run_timeout_seconds: float | None = None,
    ) -> ExecutionHandle:
        """Start a child workflow and return its handle without waiting."""
        item = BatchWorkflowInput(
            id=workflow,
            payload=payload,
            run_timeout_seconds=run_timeout_seconds,
            initial_state=initial_state,
            queue=queue,
            concurrency_key=concurrency_key,
        )
        [handle] = await self._start(step_key, [item])
        return handle

    async def batch_invoke(
        self, step_key: str, workflows: Sequence[BatchWorkflowInput]
    ) -> list[ExecutionHandle]:
        """Start several child workflows at once; returns their handles in input order."""
        return await self._start(step_key, list(workflows))

    async def invoke_and_wait(
        self,
        step_key: str,
        workflow: Any,
        payload: Any = None,
        initial_state: Any = None,
        queue: Any = None,
        concurrency_key: str | None = None,
        run_timeout_seconds: float | None = None,
        *,
        timeout: Timeout = None,
    ) -> Any:
        """Start a child and wait (worker freed) for its result; its failure raises
        ``ChildWorkflowError`` here, which the parent may catch. With ``timeout``
        the wait raises ``WaitTimeoutError`` once it is up (the child goes on)."""
        item = BatchWorkflowInput(
            id=workflow,
            payload=payload,
            run_timeout_seconds=run_timeout_seconds,
            initial_state=initial_state,
            queue=queue,
            concurrency_key=concurrency_key,
        )
        [outcome] = await self._start_and_wait(step_key, [item], timeout)
        if not outcome.success:
            raise ChildWorkflowError(
                step_key, outcome.execution_id, outcome.workflow_id, outcome.error
            )
        return outcome.result

    async def batch_invoke_and_wait(
        self, step_key: str, workflows: Sequence[BatchWorkflowInput], timeout: Timeout = None
    ) -> list[BatchStepResult]:
        """Start several children and wait for all; one ``BatchStepResult`` each, in input order."""
        return await self._start_and_wait(step_key, list(workflows), timeout)

    # agents: the same, for ``agent.with_input(...)`` invocations ----------------
    async def agent_invoke(self, step_key: str, config: Any) -> ExecutionHandle:
        """Start an agent run (``agent.with_input(...)``) without waiting."""
        [handle] = await self._start(step_key, [config.as_batch_input()])
        return handle

    async def agent_invoke_and_wait(
        self, step_key: str, config: Any, timeout: Timeout = None
    ) -> Any:
        """Start an agent run and wait for its ``AgentResult``."""
        [outcome] = await self._start_and_wait(step_key, [config.as_batch_input()], timeout)
        if not outcome.success:
            raise ChildWorkflowError(
                step_key, outcome.execution_id, outcome.workflow_id, outcome.error
            )
        return outcome.result

    async def batch_agent_invoke(
        self, step_key: str, configs: Sequence[Any]
    ) -> list[ExecutionHandle]:
        return await self._start(step_key, [i.as_batch_input() for i in configs])

    async def batch_agent_invoke_and_wait(
        self, step_key: str, configs: Sequence[Any], timeout: Timeout = None
    ) -> list[BatchStepResult]:
        return await self._start_and_wait(step_key, [i.as_batch_input() for i in configs], timeout)

    # ------------------------------------------------------------------------
    async def _start(self, step_key: str, items: list[BatchWorkflowInput]) -> list[ExecutionHandle]:
        run = self._run
        handles = await run.start_children(
            step_key, lambda: _children(run, step_key, items), _handles
        )
        return list(handles)

    async def _start_and_wait(
        self, step_key: str, items: list[BatchWorkflowInput], timeout: Timeout = None
    ) -> list[BatchStepResult]:
        run = self._run
        seconds = None if timeout is None else parse_duration(timeout)
        outcomes = await run.wait_for_children(
            step_key, lambda: _children(run, step_key, items), seconds
        )
        return [BatchStepResult.model_validate(r) for r in outcomes]


async def _children(
    run: ExecutionRun, step_key: str, items: list[BatchWorkflowInput]
) -> list[NewExecution]:
    await registry.check_known(run.store, [item.workflow_id for item in items])
    chosen = [_queue_of(item) for item in items]
    await ensure_in_store(run.store, [q for q in chosen if q is not None])
    return [
        _child(run, step_key, i, item, q)
        for i, (item, q) in enumerate(zip(items, chosen, strict=True))
    ]


def _queue_of(item: BatchWorkflowInput) -> Queue | None:
    """The child's queue; ``None`` leaves it to the worker that claims it."""
    found = registry.lookup(item.workflow_id)
    if item.queue is None:
        return found.queue if found is not None else None
    return queues.resolve(item.queue, item.workflow_id)


def _child(
    run: ExecutionRun, step_key: str, index: int, item: BatchWorkflowInput, queue: Queue | None
) -> NewExecution:
    workflow_id = item.workflow_id
    found = registry.lookup(workflow_id)
    if found is not None:
        found.coerce_payload(item.payload)
        state = found.initial_state(item.initial_state) if item.initial_state is not None else None
    elif item.initial_state is not None:
        raise InvalidPayloadError(
            f"initial_state given for {workflow_id!r}, which is not defined here"
        )
    else:
        state = None
    row = run.row
    return NewExecution(
        id=str(uuid.uuid4()),
        workflow_id=workflow_id,
        payload=run.encode(f"payload of child {workflow_id!r} at step {step_key!r}", item.payload),
        created_at=time.time(),
        parent_execution_id=run.execution_id,
        root_execution_id=row.root_execution_id or row.id,
        root_workflow_id=row.root_workflow_id or row.workflow_id,
        step_key=step_key,
        session_id=item.session_id or row.session_id,
        user_id=item.user_id or row.user_id,
        child_index=index,
        run_timeout_seconds=timeout_seconds("run_timeout_seconds", item.run_timeout_seconds),
        state=serialization.dumps(state) if state is not None else None,
        queue_name=queue.name if queue is not None else "",
        concurrency_key=item.concurrency_key or "",
        priority=item.priority,
        idempotency_key=item.idempotency_key,
        deployment_id=row.deployment_id,  # children run in their parent's deployment
    )


def _handles(children: Sequence[NewExecution]) -> list[ExecutionHandle]:
    return [_handle(child) for child in children]


def _handle(child: NewExecution) -> ExecutionHandle:
    from datetime import UTC, datetime

    return ExecutionHandle(
        id=child.id,
        workflow_id=child.workflow_id,
        created_at=datetime.fromtimestamp(child.created_at, UTC),
        parent_execution_id=child.parent_execution_id,
        root_workflow_id=child.root_workflow_id,
        root_execution_id=child.root_execution_id,
        session_id=child.session_id,
        user_id=child.user_id,
        step_key=child.step_key,
    )
