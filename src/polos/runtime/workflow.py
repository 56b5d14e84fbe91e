"""``@workflow`` and the ``Workflow`` objects it makes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, overload

from pydantic import BaseModel

from ..engine import definition as registry
from ..engine.context import WorkflowContext
from ..engine.definition import WorkflowDefinition
from ..errors import StepExecutionError
from ..types import BatchWorkflowInput, ExecutionHandle
from .client import ClientLike, PolosClient
from .current import default_client, forbid_inside_workflow
from .polos import Polos

# Options of the Polos API that later versions implement; refusing them
# loudly is better than silently ignoring what the user asked for.


class Workflow(WorkflowDefinition):
    """A durable workflow: ``await wf.run(client, payload)`` or ``await wf.invoke(...)``."""

    async def invoke(
        self, client: Any = None, payload: Any = None, **options: Any
    ) -> ExecutionHandle:
        """Queue a run and return its handle at once."""
        forbid_inside_workflow(f"{self.id}.invoke()")
        target, payload = _split(client, payload)
        handle: ExecutionHandle = await target.invoke(self, payload, **options)
        return handle

    async def run(
        self,
        client: Any = None,
        payload: Any = None,
        *,
        timeout: float | None = 600.0,
        **options: Any,
    ) -> Any:
        """Run to completion and return the result (raises the workflow's failure)."""
        forbid_inside_workflow(f"{self.id}.run()")
        target, payload = _split(client, payload)
        handle = await target.invoke(self, payload, **options)
        return await target.wait_for_result(handle.id, timeout=timeout)


def _split(client: Any, payload: Any) -> tuple[Any, Any]:
    """Accept ``wf.run(client, payload)`` as well as ``wf.run(payload)``."""
    if client is None:
        return default_client(), payload
    if isinstance(client, (PolosClient, Polos)) or isinstance(client, ClientLike):  # noqa: SIM101
        return client, payload  # concrete types first: the Protocol check is slow
    if payload is not None:
        raise TypeError(f"expected a PolosClient or Polos as first argument, got {client!r}")
    return default_client(), client


@overload
def workflow(id: Callable[..., Any], /) -> Workflow: ...


@overload
def workflow(
    id: str | None = None,
    description: str | None = None,
    queue: Any = None,
    trigger_on_event: str | None = None,
    batch_size: int = 1,
    batch_timeout_seconds: float | None = None,
    schedule: Any = None,
    on_start: Any = None,
    on_end: Any = None,
    state_schema: type[BaseModel] | None = None,
    *,
    retention: Any = None,
) -> Callable[[Callable[..., Any]], Workflow]: ...


def workflow(
    id: Callable[..., Any] | str | None = None,
    description: str | None = None,
    queue: Any = None,
    trigger_on_event: str | None = None,
    batch_size: int = 1,
    batch_timeout_seconds: float | None = None,
    schedule: Any = None,
    on_start: Any = None,
    on_end: Any = None,
    state_schema: type[BaseModel] | None = None,
    *,
    retention: Any = None,
) -> Any:
    """Declare a durable workflow: ``@workflow`` or ``@workflow(id="...", ...)``
    (Polos's parameters, in Polos's order). Ours: ``retention`` keeps its finished
    runs that long (``"90d"``, ``"forever"``) instead of the workers' default."""

    def wrap(f: Callable[..., Any]) -> Workflow:
        workflow_id = None if callable(id) else id
        if on_start is not None or on_end is not None:
            f = _with_hooks(f, workflow_id or f.__name__, on_start, on_end)
        wf = Workflow(
            f,
            id=workflow_id,
            description=description,
            queue=queue,
            trigger_on_event=trigger_on_event,
            batch_size=batch_size,
            batch_timeout_seconds=batch_timeout_seconds,
            schedule=schedule,
            state_schema=state_schema,
            retention=retention,
        )
        registry.register(wf)
        return wf

    return wrap(id) if callable(id) else wrap


def _with_hooks(
    fn: Callable[..., Any], workflow_id: str, on_start: Any, on_end: Any
) -> Callable[..., Any]:
    """``fn`` with Polos's workflow hooks around it: ``on_start`` hooks may change the
    payload, ``on_end`` hooks the result; a hook's ``HookResult.fail`` fails the run
    with ``StepExecutionError``. Each hook runs as a durable step, once."""
    # The hooks machinery is the agents' (hooks are agent-shaped in Polos: their
    # context carries agent fields); imported here, at definition time, only by
    # workflows that use hooks.
    from ..agents.hooks import HookContext, normalize_hooks, run_hooks

    owner = f"workflow {workflow_id!r}"
    starting = normalize_hooks(on_start, owner, "on_start")
    ending = normalize_hooks(on_end, owner, "on_end")

    @functools.wraps(fn)
    async def hooked(ctx: WorkflowContext, *payload: Any) -> Any:
        current = payload[0] if payload else None
        base = HookContext(
            workflow_id=ctx.workflow_id, session_id=ctx.session_id, user_id=ctx.user_id
        )
        if starting:
            outcome = await run_hooks(
                ctx, "on_start", starting, base.model_copy(update={"current_payload": current})
            )
            if outcome.failed:
                raise StepExecutionError(outcome.error_message or "an on_start hook failed")
            if outcome.modified_payload is not None:
                current = _changed_payload(current, outcome.modified_payload)
        result = fn(ctx, current) if payload else fn(ctx)
        if inspect.isawaitable(result):
            result = await result
        if ending:
            outcome = await run_hooks(
                ctx,
                "on_end",
                ending,
                base.model_copy(update={"current_payload": current, "current_output": result}),
            )
            if outcome.failed:
                raise StepExecutionError(outcome.error_message or "an on_end hook failed")
            if outcome.modified_output is not None:
                result = outcome.modified_output
        return result

    return hooked


def _changed_payload(current: Any, changes: dict[str, Any]) -> Any:
    if isinstance(current, BaseModel):
        return type(current).model_validate({**current.model_dump(), **changes})
    return changes if not isinstance(current, dict) else {**current, **changes}


def get_workflow(workflow_id: str) -> Workflow | None:
    found = registry.lookup(workflow_id)
    return found if isinstance(found, Workflow) else None


def get_all_workflows() -> dict[str, Workflow]:
    """Every defined workflow, agent and tool, by id (as Polos returns them)."""
    return {d.id: d for d in registry.all_definitions() if isinstance(d, Workflow)}


async def batch_invoke(
    client: Any,
    workflows: Sequence[BatchWorkflowInput],
    session_id: str | None = None,
    user_id: str | None = None,
) -> list[ExecutionHandle]:
    """Queue several runs at once: ``batch_invoke(client, [BatchWorkflowInput(id=..., payload=...)])``."""
    forbid_inside_workflow("batch_invoke()")
    target: Any = client if client is not None else default_client()
    handles: list[ExecutionHandle] = await target.batch_invoke(workflows, session_id, user_id)
    return handles


async def batch_agent_invoke(client: Any, agents: Sequence[Any]) -> list[ExecutionHandle]:
    """Queue several agent runs: ``batch_agent_invoke(client, [agent.with_input("..."), ...])``."""
    forbid_inside_workflow("batch_agent_invoke()")
    target: Any = client if client is not None else default_client()
    handles: list[ExecutionHandle] = await target.batch_agent_invoke(agents)
    return handles
