"""Operating runs: retry a failed or cancelled run, fork a run, retry failures in bulk.

Each route is the client's method of the same name (see
:mod:`polos.runtime.operations`); its refusals come back as 404 (no such run),
409 (a run that is not failed or cancelled) and 422 (a step key the run did not
record, with the keys it did, or a bad filter).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...errors import ExecutionNotRetryableError, UnknownStepKeyError
from ...types import ExecutionHandle
from ..endpoint import Endpoint
from ..errors import ApiError, client_errors
from ..http import body, json_response, path_text
from ..models import (
    ForkRequest,
    ForkResponse,
    RetriedRun,
    RetryFailedRequest,
    RetryFailedResponse,
)
from ..state import ServerState, server_state


async def _retried(state: ServerState, handle: ExecutionHandle) -> RetriedRun:
    row = await state.store.get_execution(handle.id)
    assert row is not None and handle.created_at is not None
    return RetriedRun(
        execution_id=handle.id,
        created_at=handle.created_at,
        workflow_id=handle.workflow_id,
        root_execution_id=handle.root_execution_id or handle.id,
        root_workflow_id=handle.root_workflow_id or handle.workflow_id,
        parent_execution_id=handle.parent_execution_id,
        status=row.status,  # type: ignore[arg-type]
    )


async def retry_execution(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    with client_errors():
        try:
            handle = await state.client.retry_execution(execution_id)
        except ExecutionNotRetryableError as exc:
            raise ApiError(409, "NOT_RETRYABLE", str(exc)) from None
    return json_response(await _retried(state, handle))


async def fork_execution(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    req = await body(request, ForkRequest, state.settings.max_body_bytes)
    with client_errors(arguments=True):
        try:
            handle = await state.client.fork_execution(execution_id, req.from_step, req.payload)
        except UnknownStepKeyError as exc:  # a PolosError, which would be a 409
            raise ApiError(422, "UNKNOWN_STEP_KEY", str(exc)) from None
    run = await _retried(state, handle)
    return json_response(
        ForkResponse(**run.model_dump(), forked_from=execution_id, from_step=req.from_step)
    )


async def retry_failed(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, RetryFailedRequest, state.settings.max_body_bytes)
    with client_errors(arguments=True):
        handles = await state.client.retry_failed(
            req.workflow_id,
            since=req.since,
            until=req.until,
            error_contains=req.error_contains,
            limit=req.limit,
        )
    return json_response(
        RetryFailedResponse(executions=[await _retried(state, h) for h in handles])
    )


ENDPOINTS = [
    # Before executions.ENDPOINTS: /retry_failed is not an execution id.
    Endpoint(
        "POST",
        "/api/v1/executions/retry_failed",
        retry_failed,
        "Retry every failed run of a workflow / time window / error text",
        "Executions",
        body=RetryFailedRequest,
        response=RetryFailedResponse,
        errors=(400, 413, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/executions/{execution_id}/retry",
        retry_execution,
        "Start a failed or cancelled run again from its first unfinished step (same id)",
        "Executions",
        response=RetriedRun,
        errors=(400, 404, 409),
    ),
    Endpoint(
        "POST",
        "/api/v1/executions/{execution_id}/fork",
        fork_execution,
        "Start a new run reusing the steps recorded before from_step",
        "Executions",
        body=ForkRequest,
        response=ForkResponse,
        errors=(400, 404, 413, 422),
    ),
]
