"""What an SDK worker registers about the agents, tools and event triggers it serves.

Polos's SDK worker announces, when it starts, each agent's provider, model and
tools (``POST /api/v1/agents/register``), each tool's parameters
(``/api/v1/tools/register``) and each event-triggered workflow's topic
(``/api/v1/event-triggers/register``). We keep them where our own workers keep
theirs: agents and tools as served workflows with their description (so
``GET /api/v1/agents`` and ``/api/v1/tools`` list both kinds of worker side by
side), triggers in the store's trigger table (so an event on the topic starts
exactly one run, which the dispatcher then pushes to an SDK worker).
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from ...store import ServedWorkflow
from ...store.vocabulary import WorkflowType
from ..endpoint import Endpoint
from ..http import Text, Topic, body, json_response
from ..models import _Request
from ..state import ServerState, server_state
from .state import Done


class RegisterAgentRequest(_Request):
    """Polos's ``RegisterAgentRequest`` (what ``Worker._register_agents`` sends)."""

    id: Text = Field(min_length=1)
    deployment_id: Text | None = None
    provider: Text = Field(min_length=1)
    model: Text = Field(min_length=1)
    system_prompt: str | None = None
    tools: list[dict[str, Any]] | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class RegisterToolRequest(_Request):
    """Polos's ``RegisterToolRequest`` (what ``Worker._register_tools`` sends)."""

    id: Text = Field(min_length=1)
    deployment_id: Text | None = None
    tool_type: Text | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class RegisterEventTriggerRequest(_Request):
    """Polos's ``RegisterEventTriggerRequest`` (``Worker._register_event_trigger``)."""

    workflow_id: Text = Field(min_length=1)
    deployment_id: Text | None = None
    event_topic: Topic
    batch_size: int = Field(default=1, ge=1, le=10_000)
    batch_timeout_seconds: float | None = Field(default=None, gt=0)
    queue_name: Text | None = None


class Registered(_Request):
    success: bool = True


def _definition(fields: dict[str, Any]) -> str:
    # The catalog routes read these keys back (routes/catalog.py); None values are dropped
    # so that a later registration's absent field does not show as an explicit null.
    return json.dumps({k: v for k, v in fields.items() if v is not None})


async def _register_served(
    state: ServerState,
    workflow_id: str,
    deployment_id: str | None,
    kind: WorkflowType,
    fields: dict[str, Any],
) -> Response:
    """Keep an SDK agent or tool as a served workflow with its description."""
    served = ServedWorkflow(
        workflow_id=workflow_id,
        queue_name=workflow_id,  # an SDK agent's or tool's runs go to the queue named after it
        workflow_type=kind,
        deployment_id=deployment_id,
        definition=_definition(fields),
    )
    await state.store.register_workflows([served], time.time())
    return json_response(Registered())


async def register_agent(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, RegisterAgentRequest, state.settings.max_body_bytes)
    fields = {
        "provider": req.provider,
        "model": req.model,
        "system_prompt": req.system_prompt,
        "tools": req.tools or [],
        "temperature": req.temperature,
        "max_output_tokens": req.max_output_tokens,
        "config": req.config,
        "metadata": req.metadata,
    }
    return await _register_served(state, req.id, req.deployment_id, WorkflowType.AGENT, fields)


async def register_tool(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, RegisterToolRequest, state.settings.max_body_bytes)
    fields = {
        "tool_type": req.tool_type or "default",
        "description": req.description,
        "parameters": req.parameters,
        "metadata": req.metadata,
    }
    return await _register_served(state, req.id, req.deployment_id, WorkflowType.TOOL, fields)


async def register_event_trigger(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, RegisterEventTriggerRequest, state.settings.max_body_bytes)
    # The trigger machinery is ours (engine/triggers.py, run by the server's duties
    # loop and by our workers alike): each event, or batch, starts exactly one run.
    await state.store.upsert_trigger(
        req.workflow_id, req.event_topic, req.batch_size, req.batch_timeout_seconds, time.time()
    )
    return json_response(Done())


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/agents/register",
        register_agent,
        "Register an agent an SDK worker serves (provider, model, tools); listed by "
        "GET /api/v1/agents",
        "Workers",
        body=RegisterAgentRequest,
        response=Registered,
        errors=(400, 413, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/tools/register",
        register_tool,
        "Register a tool an SDK worker serves (its parameters); listed by GET /api/v1/tools",
        "Workers",
        body=RegisterToolRequest,
        response=Registered,
        errors=(400, 413, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/event-triggers/register",
        register_event_trigger,
        "Start a run of a workflow for each event (or batch of events) on a topic",
        "Workers",
        body=RegisterEventTriggerRequest,
        response=Done,
        errors=(400, 413, 422),
    ),
]
