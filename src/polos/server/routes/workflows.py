"""What the workers serve: workflows (with their triggers and schedules) and workers."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from ..endpoint import Endpoint
from ..errors import not_found
from ..http import json_response, path_text
from ..models import WorkerResponse, WorkersResponse, WorkflowResponse
from ..state import ServerState, server_state


async def _workflows(state: ServerState) -> list[WorkflowResponse]:
    store = state.store
    triggers: dict[str, list[str]] = {}
    for trigger in await store.list_triggers():
        triggers.setdefault(trigger.workflow_id, []).append(trigger.topic)
    scheduled = {s.workflow_id for s in await store.list_schedules()}
    return [
        WorkflowResponse(
            workflow_id=served.workflow_id,
            workflow_type=served.workflow_type,
            queue_name=served.queue_name,
            trigger_on_event=served.workflow_id in triggers,
            trigger_topics=sorted(triggers.get(served.workflow_id, [])),
            scheduled=served.workflow_id in scheduled,
        )
        for served in await store.served_workflows()
    ]


async def list_workflows(request: Request) -> Response:
    workflows = await _workflows(server_state(request))
    return json_response([w.model_dump(mode="json") for w in workflows])


async def get_workflow(request: Request) -> Response:
    workflow_id = path_text(request, "workflow_id")
    for workflow in await _workflows(server_state(request)):
        if workflow.workflow_id == workflow_id:
            return json_response(workflow)
    raise not_found(
        "workflow",
        f"no worker has served a workflow {workflow_id!r} on this database; start a worker "
        "that imports the module defining it",
    )


async def list_workers(request: Request) -> Response:
    rows = await server_state(request).store.list_workers()
    return json_response(
        WorkersResponse(
            workers=[
                WorkerResponse(
                    worker_id=w.worker_id,
                    hostname=w.hostname,
                    pid=w.pid,
                    deployment_id=w.deployment_id,
                    started_at=datetime.fromtimestamp(w.started_at, UTC),
                    heartbeat_at=datetime.fromtimestamp(w.heartbeat_at, UTC),
                    push_endpoint_url=w.push_url,
                    online=w.online,
                    serves=list(w.serves),
                )
                for w in rows
            ]
        )
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/workflows",
        list_workflows,
        "Workflows the workers serve on this database (a bare array, as Polos)",
        "Workflows",
        response=list[WorkflowResponse],
    ),
    Endpoint(
        "GET",
        "/api/v1/workflows/{workflow_id}",
        get_workflow,
        "One workflow",
        "Workflows",
        response=WorkflowResponse,
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        "/api/v1/workers",
        list_workers,
        "Workers registered on this database",
        "Workflows",
        response=WorkersResponse,
    ),
]
