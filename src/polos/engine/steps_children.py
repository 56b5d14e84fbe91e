"""``ctx.step.invoke*`` and ``batch_invoke*``: child workflows.

Starting children is one fenced transaction with the parent's step: either
the children exist and the step is recorded (or the parent waits for them),
or nothing happened and a replay starts them again. A waiting parent holds no
worker slot; the last child to end records the step's output (every child's
outcome, in input order) and requeues the parent in the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from ..durations import parse_duration
from ..errors import ChildWorkflowError
from ..store.records import NewExecution
from ..types import BatchStepResult, BatchWorkflowInput, ExecutionHandle
from .run import ExecutionRun
from .submission import Parent, handle_of, prepare_executions

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
        return _result_of(step_key, outcome)

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
        return _result_of(step_key, outcome)

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
        handles = await run.start_children(step_key, _children(run, step_key, items), _handles)
        return list(handles)

    async def _start_and_wait(
        self,
        step_key: str,
        items: list[BatchWorkflowInput],
        timeout: Timeout = None,
        *,
        shared_results: bool = False,
    ) -> list[BatchStepResult]:
        """``shared_results``: for callers that never mutate a child's result nor
        hand it on uncopied (the agent loop): a replay may return the results
        decoded by an earlier attempt (see ``polos.engine.decoded_outputs``)."""
        run = self._run
        seconds = None if timeout is None else parse_duration(timeout)
        outcomes: list[BatchStepResult] = await run.wait_for_children(
            step_key,
            _children(run, step_key, items),
            seconds,
            shared_output=shared_results,
            shape=_outcomes,
        )
        # Shared (shared_results): the models are; the list is the caller's own.
        return list(outcomes) if shared_results else outcomes


def _outcomes(decoded: list[Any]) -> list[BatchStepResult]:
    """The children's recorded outcomes as models (made once per worker when shared)."""
    return [BatchStepResult.model_validate(r) for r in decoded]


def _result_of(step_key: str, outcome: BatchStepResult) -> Any:
    """One child's result; its failure raises ``ChildWorkflowError`` (the parent may catch it)."""
    if not outcome.success:
        raise ChildWorkflowError(step_key, outcome.execution_id, outcome.workflow_id, outcome.error)
    return outcome.result


def _handles(children: Sequence[NewExecution]) -> list[ExecutionHandle]:
    return [handle_of(child) for child in children]


def _children(
    run: ExecutionRun, step_key: str, items: list[BatchWorkflowInput]
) -> Callable[[], Awaitable[list[NewExecution]]]:
    """Makes the children's rows, on the attempt that starts them."""
    return functools.partial(
        prepare_executions,
        run.store,
        items,
        clock=run.clock,
        max_payload_bytes=run.max_payload_bytes,
        parent=Parent(run.row, step_key),
    )
