"""Starting runs: one, a batch (one transaction), or from a webhook's body."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...engine import definition as registry
from ...engine.published_inputs import first_mismatch
from ...observability.tracing import caller_trace
from ...types import BatchWorkflowInput, ExecutionHandle
from ..endpoint import Endpoint
from ..errors import client_errors, invalid
from ..http import body, json_response, path_text
from ..models import (
    BatchRunRequest,
    BatchRunResponse,
    RunOptions,
    RunRequest,
    RunResponse,
    Traced,
)
from ..protocol.children import start_children
from ..protocol.waits import worker_of
from ..state import ServerState, server_state

IDEMPOTENCY_HEADER = "Idempotency-Key"
TRACEPARENT_HEADER = "traceparent"


def batch_input(
    workflow_id: str, options: RunOptions, idempotency_key: str | None = None
) -> BatchWorkflowInput:
    queue: dict[str, Any] | None = None
    if options.queue_name is not None or options.queue_concurrency_limit is not None:
        queue = {"concurrency_limit": options.queue_concurrency_limit}
        if options.queue_name is not None:
            queue["name"] = options.queue_name
    return BatchWorkflowInput(
        id=workflow_id,
        payload=options.payload,
        initial_state=options.initial_state,
        run_timeout_seconds=options.run_timeout_seconds,
        queue=queue,
        concurrency_key=options.concurrency_key,
        priority=options.priority,
        idempotency_key=options.idempotency_key or idempotency_key,
    )


async def start_runs(
    state: ServerState,
    items: list[BatchWorkflowInput],
    session_id: str | None = None,
    user_id: str | None = None,
    traceparent: str | None = None,
) -> list[ExecutionHandle]:
    """``PolosClient.batch_invoke``, its refusals as 4xx; inside ``traceparent``'s span,
    so the runs are stored with the caller's trace context as a direct invoke's are."""
    await check_inputs(state, items)
    with client_errors(arguments=True), caller_trace(traceparent):
        return await state.client.batch_invoke(items, session_id=session_id, user_id=user_id)


async def check_inputs(state: ServerState, items: list[BatchWorkflowInput]) -> None:
    """Refuse (422, naming the field) a payload that does not fit the input schema the
    workflow's workers published, before anything is queued. A workflow this process
    defines is left to ``batch_invoke``, which validates with the model itself."""
    foreign = [
        (index, item.workflow_id, item.payload)
        for index, item in enumerate(items)
        if registry.lookup(item.workflow_id) is None
    ]
    found = await first_mismatch(state.store, foreign)
    if found is None:
        return
    where = [] if len(items) == 1 else ["workflows", found.index]
    raise invalid(
        str(found.error("send a payload that fits that model")),
        [{"loc": [*where, "payload", *found.path], "msg": found.message, "type": "input_schema"}],
    )


def traceparent_of(request: Request, req: Traced) -> str | None:
    """The caller's trace: the body's ``otel_traceparent`` (Polos's clients), else the
    W3C ``traceparent`` header (any instrumented HTTP client)."""
    return req.otel_traceparent or request.headers.get(TRACEPARENT_HEADER) or None


def run_response(handle: ExecutionHandle) -> RunResponse:
    assert handle.created_at is not None
    return RunResponse(
        execution_id=handle.id,
        created_at=handle.created_at,
        workflow_id=handle.workflow_id,
        root_execution_id=handle.root_execution_id or handle.id,
        root_workflow_id=handle.root_workflow_id or handle.workflow_id,
    )


async def run_workflow(request: Request) -> Response:
    state = server_state(request)
    workflow_id = path_text(request, "workflow_id")
    req = await body(request, RunRequest, state.settings.max_body_bytes)
    item = batch_input(workflow_id, req, request.headers.get(IDEMPOTENCY_HEADER) or None)
    if req.parent_execution_id is not None:  # a Polos SDK workflow's child
        [handle] = await start_children(
            state,
            req.parent_execution_id,
            [item],
            step_key=req.step_key,
            wait=req.wait_for_subworkflow,
            single=True,
            worker_id=worker_of(request),
        )
    else:
        [handle] = await start_runs(
            state, [item], req.session_id, req.user_id, traceparent_of(request, req)
        )
    return json_response(run_response(handle))


async def batch_run(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, BatchRunRequest, state.settings.max_body_bytes)
    items = [
        batch_input(w.workflow_id, w).model_copy(
            update={"session_id": w.session_id, "user_id": w.user_id}
        )
        for w in req.workflows
    ]
    if req.parent_execution_id is not None:  # a Polos SDK workflow's children
        handles = await start_children(
            state,
            req.parent_execution_id,
            items,
            step_key=req.step_key,
            wait=req.wait_for_subworkflow,
            single=False,
            worker_id=worker_of(request),
        )
    else:
        handles = await start_runs(
            state, items, req.session_id, req.user_id, traceparent_of(request, req)
        )
    return json_response(BatchRunResponse(executions=[run_response(h) for h in handles]))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/workflows/{workflow_id}/run",
        run_workflow,
        "Start a run of a workflow",
        "Runs",
        body=RunRequest,
        response=RunResponse,
        errors=(400, 404, 409, 413, 422),
        headers=(
            (IDEMPOTENCY_HEADER, "Same as the body's idempotency_key"),
            (TRACEPARENT_HEADER, "The caller's W3C trace context, when the body has none"),
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/workflows/batch_run",
        batch_run,
        "Start several runs in one transaction",
        "Runs",
        body=BatchRunRequest,
        response=BatchRunResponse,
        errors=(400, 404, 409, 413, 422),
        headers=((TRACEPARENT_HEADER, "The caller's W3C trace context, when the body has none"),),
    ),
]
