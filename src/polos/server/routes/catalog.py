"""Agents and tools the workers serve, as each worker described them when it started.

The server imports none of the workers' code: a worker writes each agent's
provider, model and tools, and each tool's parameters, into the store
(``Store.register_workflows``), and these routes read them back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...store import ServedWorkflow
from ...store.vocabulary import WorkflowType
from ..endpoint import Endpoint
from ..errors import not_found
from ..http import json_response, path_text
from ..models import AgentResponse, ToolResponse
from ..state import server_state


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _described(row: ServedWorkflow) -> dict[str, Any]:
    try:
        value = json.loads(row.definition) if row.definition else {}
    except ValueError:  # written by a worker of another version: show what is certain
        value = {}
    return value if isinstance(value, dict) else {}


def _agent(row: ServedWorkflow) -> AgentResponse:
    d = _described(row)
    return AgentResponse(
        id=row.workflow_id,
        deployment_id=row.deployment_id,
        provider=str(d.get("provider") or "unknown"),
        model=str(d.get("model") or "unknown"),
        system_prompt=d.get("system_prompt") if isinstance(d.get("system_prompt"), str) else None,
        tools=[t for t in d.get("tools") or [] if isinstance(t, dict)],
        temperature=d.get("temperature"),
        max_output_tokens=d.get("max_output_tokens"),
        config=d.get("config") if isinstance(d.get("config"), dict) else None,
        metadata=_agent_metadata(d),
        queue_name=row.queue_name,
        created_at=_time(row.created_at),
        updated_at=_time(row.updated_at),
    )


def _agent_metadata(d: dict[str, Any]) -> dict[str, Any] | None:
    # An SDK worker registers its own metadata (stop conditions, guardrails);
    # ours describe the agent in one line.
    if isinstance(d.get("metadata"), dict):
        return dict(d["metadata"])
    return {"description": d["description"]} if d.get("description") else None


def _tool(row: ServedWorkflow) -> ToolResponse:
    d = _described(row)
    return ToolResponse(
        id=row.workflow_id,
        deployment_id=row.deployment_id,
        tool_type=str(d.get("tool_type") or "default"),
        description=d.get("description") if isinstance(d.get("description"), str) else None,
        parameters=d.get("parameters") if isinstance(d.get("parameters"), dict) else None,
        metadata=d.get("metadata") if isinstance(d.get("metadata"), dict) else None,
        queue_name=row.queue_name,
        created_at=_time(row.created_at),
        updated_at=_time(row.updated_at),
    )


async def _served(request: Request, workflow_type: str) -> list[ServedWorkflow]:
    rows = await server_state(request).store.served_workflows()
    return [r for r in rows if r.workflow_type == workflow_type]


async def _one(request: Request, workflow_type: WorkflowType, param: str) -> ServedWorkflow:
    wanted = path_text(request, param)
    for row in await _served(request, workflow_type):
        if row.workflow_id == wanted:
            return row
    raise not_found(
        workflow_type,
        f"no worker has served {'an' if workflow_type == WorkflowType.AGENT else 'a'} "
        f"{workflow_type} {wanted!r} here; start a worker that defines it",
    )


async def list_agents(request: Request) -> Response:
    agents = [_agent(r) for r in await _served(request, WorkflowType.AGENT)]
    return json_response([a.model_dump(mode="json") for a in agents])


async def get_agent(request: Request) -> Response:
    return json_response(_agent(await _one(request, WorkflowType.AGENT, "agent_id")))


async def list_tools(request: Request) -> Response:
    tools = [_tool(r) for r in await _served(request, WorkflowType.TOOL)]
    return json_response([t.model_dump(mode="json") for t in tools])


async def get_tool(request: Request) -> Response:
    return json_response(_tool(await _one(request, WorkflowType.TOOL, "tool_id")))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/agents",
        list_agents,
        "Agents the workers serve, with their model and tools (a bare array, as Polos)",
        "Workflows",
        response=list[AgentResponse],
    ),
    Endpoint(
        "GET",
        "/api/v1/agents/{agent_id}",
        get_agent,
        "One agent's definition",
        "Workflows",
        response=AgentResponse,
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        "/api/v1/tools",
        list_tools,
        "Tools the workers serve, with their parameters (a bare array, as Polos)",
        "Workflows",
        response=list[ToolResponse],
    ),
    Endpoint(
        "GET",
        "/api/v1/tools/{tool_id}",
        get_tool,
        "One tool's definition",
        "Workflows",
        response=ToolResponse,
        errors=(400, 404),
    ),
]
