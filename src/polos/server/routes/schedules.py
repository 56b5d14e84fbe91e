"""Cron schedules: create (or update), list, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ... import schedules
from ...engine import definition as registry
from ..endpoint import Endpoint
from ..errors import client_errors, not_found
from ..http import body, json_response, path_text, query
from ..models import (
    DeletedResponse,
    ScheduleCreated,
    ScheduledWorkflowsResponse,
    ScheduleKeyQuery,
    ScheduleRequest,
    ScheduleResponse,
    SchedulesQuery,
    SchedulesResponse,
)
from ..state import server_state


def _response(info: schedules.ScheduleInfo) -> ScheduleResponse:
    return ScheduleResponse(
        id=info.schedule_id,
        schedule_id=info.schedule_id,
        workflow_id=info.workflow_id,
        cron=info.cron,
        timezone=info.timezone,
        key=info.key,
        last_run_at=info.last_fire_at,
        next_run_at=info.next_fire_at,
    )


async def create(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, ScheduleRequest, state.settings.max_body_bytes)
    with client_errors():
        await registry.check_known(state.store, [req.workflow_id])
        schedule_id = await schedules.create(
            state.client, req.workflow_id, req.cron, req.timezone, req.key
        )
    return json_response(ScheduleCreated(schedule_id=schedule_id))


async def _list(request: Request, workflow_id: str | None) -> Response:
    found = await schedules.list(server_state(request).client, workflow_id)
    return json_response(SchedulesResponse(schedules=[_response(s) for s in found]))


async def list_all(request: Request) -> Response:
    return await _list(request, query(request, SchedulesQuery).workflow_id)


async def list_for_workflow(request: Request) -> Response:
    return await _list(request, path_text(request, "workflow_id"))


async def scheduled_workflows(request: Request) -> Response:
    found = await schedules.list(server_state(request).client)
    return json_response(
        ScheduledWorkflowsResponse(workflow_ids=sorted({s.workflow_id for s in found}))
    )


async def delete(request: Request) -> Response:
    workflow_id = path_text(request, "workflow_id")
    key = query(request, ScheduleKeyQuery).key
    if not await schedules.delete(server_state(request).client, workflow_id, key):
        raise not_found("schedule", f"workflow {workflow_id!r} has no schedule with key {key!r}")
    return json_response(DeletedResponse(deleted=True))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/schedules",
        create,
        "Create a workflow's schedule (or update its cron and timezone)",
        "Schedules",
        body=ScheduleRequest,
        response=ScheduleCreated,
        errors=(400, 404, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/schedules",
        list_all,
        "Every schedule (or one workflow's)",
        "Schedules",
        query=SchedulesQuery,
        response=SchedulesResponse,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/schedules/workflows",
        scheduled_workflows,
        "The workflows that have a schedule",
        "Schedules",
        response=ScheduledWorkflowsResponse,
    ),
    Endpoint(
        "GET",
        "/api/v1/schedules/workflows/{workflow_id}",
        list_for_workflow,
        "A workflow's schedules",
        "Schedules",
        response=SchedulesResponse,
        errors=(400,),
    ),
    Endpoint(
        "DELETE",
        "/api/v1/schedules/workflows/{workflow_id}",
        delete,
        "Delete a workflow's schedule (by key, default 'global')",
        "Schedules",
        query=ScheduleKeyQuery,
        response=DeletedResponse,
        errors=(400, 404, 422),
    ),
]
