"""Reading and cancelling runs: one run, its steps and history, the paginated list."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import Response

from ... import serialization
from ...errors import ExecutionNotFoundError
from ...runtime.deployments import ServedDeployments, served_for
from ...runtime.models import ExecutionInfo, execution_info
from ...store import ExecutionRow
from ..endpoint import Endpoint
from ..errors import client_errors, conflict, not_found
from ..http import json_response, path_text, query
from ..models import (
    CancelResponse,
    ExecutionResponse,
    ExecutionsQuery,
    ExecutionsResponse,
    HistoryEntryResponse,
    HistoryResponse,
    StepResponse,
    StepsResponse,
    WorkflowRunSummary,
)
from ..state import ServerState, server_state


def execution_response(
    row: ExecutionRow, served: ServedDeployments | None = None
) -> ExecutionResponse:
    info = execution_info(row, served=served)
    return ExecutionResponse.model_validate(
        {
            **_common(info, row),
            "execution_id": info.id,
            "started_at": info.started_at,
            "updated_at": info.updated_at,
            "parent_execution_id": info.parent_execution_id,
            "root_workflow_id": info.root_workflow_id or info.workflow_id,
            "step_key": info.step_key,
            "user_id": info.user_id,
            "deployment_id": info.deployment_id,
            "deployment_served": info.deployment_served,
            "queue_name": row.queue_name or None,
            "concurrency_key": row.concurrency_key or None,
            "priority": row.priority,
            "run_timeout_seconds": row.run_timeout_seconds,
            "attempt": info.attempt,
            "retry_count": max(info.attempt - 1, 0),
            "waiting_on": info.waiting_on,
            "wait_kind": info.wait_kind,
            "wake_at": info.wake_at,
            "state": to_jsonable_python(info.state, fallback=str),
            "output_schema_name": row.output_schema_name,
        }
    )


def _common(info: ExecutionInfo, row: ExecutionRow) -> dict[str, object]:
    """The fields a run and a run-list row share."""
    return {
        "payload": to_jsonable_python(serialization.loads(row.payload, strict=False), fallback=str),
        "id": info.id,
        "workflow_id": info.workflow_id,
        "status": info.status,
        "result": to_jsonable_python(info.result, fallback=str),
        "error": info.error,
        "created_at": info.created_at,
        "completed_at": info.completed_at,
        "root_execution_id": info.root_execution_id or info.id,
        "session_id": info.session_id,
    }


async def _row(state: ServerState, execution_id: str) -> ExecutionRow:
    row = await state.store.get_execution(execution_id)
    if row is None:
        raise not_found("execution", str(ExecutionNotFoundError(execution_id)))
    return row


async def get_execution(request: Request) -> Response:
    state = server_state(request)
    row = await _row(state, path_text(request, "execution_id"))
    served = await served_for(state.store, [row], time.time())
    return json_response(execution_response(row, served))


async def cancel_execution(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    with client_errors():
        cancelled = await state.client.cancel_execution(execution_id)
    row = await _row(state, execution_id)
    if not cancelled:
        raise conflict(
            f"execution {execution_id} is already {row.status}; only a queued, running or "
            "waiting run can be cancelled"
        )
    at = row.completed_at or row.updated_at
    return json_response(
        CancelResponse(
            execution_id=execution_id,
            status="cancelled",
            cancelled_at=datetime.fromtimestamp(at, UTC),
        )
    )


async def _page(request: Request) -> tuple[list[ExecutionRow], ExecutionsQuery]:
    state = server_state(request)
    q = query(request, ExecutionsQuery)
    rows = await state.store.list_executions(
        status=q.status,
        workflow_id=q.workflow_id,
        limit=q.limit + 1,  # one more: is there a next page?
        offset=q.offset,
        created_after=_epoch(q.start_time),
        created_before=_epoch(q.end_time),
    )
    return rows, q


def _epoch(moment: datetime | None) -> float | None:
    """A bound compared with times as this API shows them (rounded to the microsecond),
    so that a ``created_at`` read from a response selects that very run."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.timestamp() - 0.5e-6


async def list_executions(request: Request) -> Response:
    rows, q = await _page(request)
    more = len(rows) > q.limit
    served = await served_for(server_state(request).store, rows[: q.limit], time.time())
    return json_response(
        ExecutionsResponse(
            executions=[execution_response(r, served) for r in rows[: q.limit]],
            next_offset=q.offset + q.limit if more else None,
        )
    )


async def list_workflow_runs(request: Request) -> Response:
    rows, q = await _page(request)
    summaries = [
        WorkflowRunSummary.model_validate(_common(execution_info(row), row))
        for row in rows[: q.limit]
    ]
    return json_response([s.model_dump(mode="json") for s in summaries])


async def list_steps(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    row = await _row(state, execution_id)
    info = execution_info(row, await state.store.list_steps(execution_id))
    return json_response(
        StepsResponse(
            execution_id=execution_id,
            steps=[
                StepResponse(
                    step_key=s.step_key,
                    kind=s.kind,
                    name=s.name,
                    output=to_jsonable_python(s.output, fallback=str),
                    error=s.error,
                    success=s.error is None,
                    attempt=s.attempt,
                    created_at=s.created_at,
                    started_at=s.started_at,
                )
                for s in info.steps
            ],
        )
    )


async def list_history(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    row = await _row(state, execution_id)
    info = execution_info(row, None, await state.store.list_history(execution_id))
    return json_response(
        HistoryResponse(
            execution_id=execution_id,
            history=[HistoryEntryResponse.model_validate(h.model_dump()) for h in info.history],
        )
    )


_RUN_ERRORS = (400, 404)

ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/executions",
        list_executions,
        "List runs, newest first (paginated, filterable)",
        "Executions",
        query=ExecutionsQuery,
        response=ExecutionsResponse,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/workflows/runs",
        list_workflow_runs,
        "List runs, newest first, as Polos's run list (a bare array)",
        "Executions",
        query=ExecutionsQuery,
        response=list[WorkflowRunSummary],
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/executions/{execution_id}",
        get_execution,
        "One run: status, payload, result or error",
        "Executions",
        response=ExecutionResponse,
        errors=_RUN_ERRORS,
    ),
    Endpoint(
        "POST",
        "/api/v1/executions/{execution_id}/cancel",
        cancel_execution,
        "Cancel a run and every run under it",
        "Executions",
        response=CancelResponse,
        errors=(*_RUN_ERRORS, 409),
    ),
    Endpoint(
        "GET",
        "/api/v1/executions/{execution_id}/steps",
        list_steps,
        "A run's recorded steps, in order",
        "Executions",
        response=StepsResponse,
        errors=_RUN_ERRORS,
    ),
    Endpoint(
        "GET",
        "/api/v1/executions/{execution_id}/history",
        list_history,
        "A run's history: created, claimed, waiting, resumed, completed...",
        "Executions",
        response=HistoryResponse,
        errors=_RUN_ERRORS,
    ),
]
