"""Request and response bodies of the HTTP API (the OpenAPI document is made from them).

Field names follow Polos's orchestrator where it has the route, so that Polos
clients find what they expect; fields of ours are added beside them. Unknown
request fields are ignored, as Polos does (its SDK sends a few deprecated ones).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ..store.records import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, WAITING
from .http import Text, Topic

Status = Literal["queued", "running", "waiting", "completed", "failed", "cancelled"]
assert set(get_args(Status)) == {QUEUED, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED}

MAX_BATCH = 1000


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong, and what to do about it")
    error_type: str = Field(description="A machine-readable code (NOT_FOUND, CONFLICT...)")
    detail: list[dict[str, Any]] | None = Field(
        default=None, description="For validation errors: each field in error"
    )


class HealthResponse(BaseModel):
    status: str


# runs --------------------------------------------------------------------------------
class RunOptions(_Request):
    payload: Any = Field(default=None, description="The workflow's input (any JSON)")
    queue_name: Text | None = None
    queue_concurrency_limit: int | None = Field(default=None, ge=1)
    concurrency_key: Text | None = None
    initial_state: Any = None
    run_timeout_seconds: float | None = Field(default=None, gt=0)
    priority: int = Field(default=0, description="Higher starts first within a queue")
    idempotency_key: Text | None = Field(
        default=None,
        description="A second run with the same key returns the first execution "
        "(also read from the Idempotency-Key header)",
    )


class ChildOf(_Request):
    """How a Polos SDK workflow starts children: its own ids, and the step that waits."""

    parent_execution_id: Text | None = Field(
        default=None, description="The running execution that starts this run as its child"
    )
    root_execution_id: Text | None = Field(
        default=None, description="Accepted; the parent's run tree is used"
    )
    step_key: Text | None = Field(
        default=None, description="The parent's step that receives the outcome (with a wait)"
    )
    wait_for_subworkflow: bool = Field(
        default=False, description="Park the parent on step_key until the child(ren) end"
    )


class Traced(_Request):
    """The caller's trace, which the runs started join (Polos's field name)."""

    otel_traceparent: Text | None = Field(
        default=None,
        description="The caller's W3C traceparent: the runs join that trace, under that "
        "span (else the request's traceparent header is used)",
    )


class RunRequest(RunOptions, ChildOf, Traced):
    """``POST /api/v1/workflows/{workflow_id}/run``."""

    session_id: Text | None = None
    user_id: Text | None = None
    deployment_id: Text | None = Field(
        default=None, description="Accepted for Polos clients; runs go to any worker"
    )


class RunResponse(BaseModel):
    execution_id: str
    created_at: datetime
    workflow_id: str
    root_execution_id: str
    root_workflow_id: str


class BatchRunItem(RunOptions):
    workflow_id: Text = Field(min_length=1)
    session_id: Text | None = Field(default=None, description="Overrides the batch's session_id")
    user_id: Text | None = Field(default=None, description="Overrides the batch's user_id")


class BatchRunRequest(ChildOf, Traced):
    """``POST /api/v1/workflows/batch_run``: several runs, one transaction."""

    workflows: list[BatchRunItem] = Field(min_length=1, max_length=MAX_BATCH)
    session_id: Text | None = None
    user_id: Text | None = None
    deployment_id: Text | None = None


class BatchRunResponse(BaseModel):
    executions: list[RunResponse]


# executions ----------------------------------------------------------------------------
class ExecutionResponse(BaseModel):
    """One run: Polos's fields, plus ours (``attempt``, ``waiting_on``, ``state``...)."""

    id: str
    execution_id: str
    workflow_id: str
    status: Status
    payload: Any = None
    result: Any = None
    error: dict[str, Any] | None = Field(
        default=None, description="The failure: type, message (Polos: a string)"
    )
    created_at: datetime
    started_at: datetime | None = None
    updated_at: datetime
    completed_at: datetime | None = None
    parent_execution_id: str | None = None
    root_execution_id: str
    root_workflow_id: str
    step_key: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    deployment_id: str | None = None
    deployment_served: bool | None = Field(
        default=None,
        description="False when the run is queued or waiting on a deployment no live worker "
        "serves (it will not move until one does); null when that does not apply",
    )
    queue_name: str | None = None
    concurrency_key: str | None = None
    priority: int = 0
    run_timeout_seconds: float | None = None
    attempt: int
    retry_count: int = Field(description="Attempts before this one")
    waiting_on: str | None = Field(default=None, description="The step key a waiting run waits at")
    wait_kind: str | None = None
    wake_at: datetime | None = None
    state: Any = None
    output_schema_name: str | None = Field(
        default=None,
        description="The class a Polos SDK worker named for the result (module.Class): "
        "Polos's SDK clients rebuild the model from it",
    )


class ExecutionsQuery(_Request):
    status: Status | None = None
    workflow_id: Text | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    start_time: datetime | None = Field(default=None, description="Created at or after (RFC 3339)")
    end_time: datetime | None = Field(default=None, description="Created before (RFC 3339)")


class ExecutionsResponse(BaseModel):
    executions: list[ExecutionResponse]
    next_offset: int | None = Field(description="The offset of the next page; null at the end")


class WorkflowRunSummary(BaseModel):
    """One row of Polos's ``GET /api/v1/workflows/runs``."""

    id: str
    root_execution_id: str | None = None
    workflow_id: str
    session_id: str | None = None
    created_at: datetime
    status: Status
    completed_at: datetime | None = None
    payload: Any = None
    result: Any = None
    error: dict[str, Any] | None = None


class StepResponse(BaseModel):
    step_key: str
    kind: str
    name: str
    output: Any = None
    error: dict[str, Any] | None = None
    success: bool
    attempt: int
    created_at: datetime
    started_at: datetime | None = Field(None, description="When the step began, when recorded")


class StepsResponse(BaseModel):
    execution_id: str
    steps: list[StepResponse]


class HistoryEntryResponse(BaseModel):
    seq: int
    at: datetime
    event: str
    attempt: int
    detail: dict[str, Any] | None = None


class HistoryResponse(BaseModel):
    execution_id: str
    history: list[HistoryEntryResponse]


class CancelResponse(BaseModel):
    execution_id: str
    status: Status
    cancelled_at: datetime


# events --------------------------------------------------------------------------------
class EventIn(_Request):
    event_type: Text | None = None
    data: Any = None


class PublishRequest(_Request):
    """``POST /api/v1/events/publish``, as Polos's ``batch_publish`` sends it."""

    topic: Topic
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)
    execution_id: Text | None = Field(default=None, description="Accepted; not needed here")
    root_execution_id: Text | None = Field(default=None, description="Accepted; not needed here")


class PublishResponse(BaseModel):
    sequence_ids: list[int]
    event_ids: list[str] = Field(default=[], description="The events' ids, in order")
    created_at: datetime


class EventOut(BaseModel):
    id: str
    sequence_id: int
    topic: str
    event_type: str | None = None
    data: Any = None
    created_at: datetime


class EventsQuery(_Request):
    topic: Topic
    last_sequence_id: int | None = Field(default=None, ge=0, description="Events after this one")
    last_timestamp: datetime | None = Field(
        default=None, description="Events published after this time (RFC 3339)"
    )
    limit: int = Field(default=100, ge=1, le=1000)
    sort: Literal["asc"] = Field(default="asc", description="Oldest first (the only order)")


class EventsResponse(BaseModel):
    events: list[EventOut]
    next_sequence_id: int | None
    has_more: bool


class StreamQuery(_Request):
    topic: Topic | None = None
    workflow_id: Text | None = Field(default=None, min_length=1)
    workflow_run_id: Text | None = Field(default=None, min_length=1)
    last_sequence_id: int | None = Field(default=None, ge=0)
    last_timestamp: datetime | None = None
    project_id: str | None = Field(default=None, description="Sent by Polos's SDK; ignored")


# workflows -------------------------------------------------------------------------------
class WorkflowResponse(BaseModel):
    workflow_id: str
    workflow_type: str = Field(description="workflow, agent or tool")
    queue_name: str | None = None
    trigger_on_event: bool
    trigger_topics: list[str]
    scheduled: bool


class AgentResponse(BaseModel):
    """An agent some worker serves, as Polos's orchestrator lists agent definitions."""

    id: str
    deployment_id: str | None = None
    provider: str
    model: str
    system_prompt: str | None = None
    tools: list[dict[str, Any]] = Field(description="The tools, in OpenAI's function format")
    temperature: float | None = None
    max_output_tokens: int | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    queue_name: str
    created_at: datetime
    updated_at: datetime


class ToolResponse(BaseModel):
    """A tool some worker serves, as Polos's orchestrator lists tool definitions."""

    id: str
    deployment_id: str | None = None
    tool_type: str
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="The arguments' JSON schema")
    metadata: dict[str, Any] | None = None
    queue_name: str
    created_at: datetime
    updated_at: datetime


class WorkerResponse(BaseModel):
    worker_id: str
    hostname: str
    pid: int
    deployment_id: str | None = None
    started_at: datetime
    heartbeat_at: datetime
    push_endpoint_url: str | None = Field(
        default=None, description="A Polos SDK worker's push endpoint (None: a worker of ours)"
    )
    online: bool = Field(default=True, description="False while an SDK worker still registers")
    serves: list[str] = Field(
        default_factory=list, description="What an SDK worker runs (ours: not listed here)"
    )


class WorkersResponse(BaseModel):
    workers: list[WorkerResponse]


# schedules -------------------------------------------------------------------------------
class ScheduleRequest(_Request):
    workflow_id: Text = Field(min_length=1)
    cron: Text = Field(min_length=1, description="Five fields, or six with seconds first")
    timezone: Text = "UTC"
    key: Text = Field(default="global", min_length=1)


class ScheduleCreated(BaseModel):
    schedule_id: str


class ScheduleResponse(BaseModel):
    id: str
    schedule_id: str
    workflow_id: str
    cron: str
    timezone: str
    key: str
    status: Literal["active"] = "active"
    last_run_at: datetime | None = None
    next_run_at: datetime


class SchedulesResponse(BaseModel):
    schedules: list[ScheduleResponse]


class SchedulesQuery(_Request):
    workflow_id: Text | None = None


class ScheduledWorkflowsResponse(BaseModel):
    workflow_ids: list[str]


class ScheduleKeyQuery(_Request):
    key: Text = Field(default="global", min_length=1)


class DeletedResponse(BaseModel):
    deleted: bool


# approvals ---------------------------------------------------------------------------------
ApprovalStatus = Literal["waiting", "answered", "pending", "completed", "failed", "cancelled"]


class ApprovalResponse(BaseModel):
    """``GET /api/v1/approvals/{execution_id}/{step_key}``."""

    execution_id: str = Field(description="The run tree's root execution")
    step_key: str
    status: ApprovalStatus = Field(
        description="waiting: can be answered; answered: a response was accepted; pending: "
        "the run is active but not waiting at this step; else the finished run's status"
    )
    data: Any = Field(default=None, description="What the suspend shows (when waiting)")
    workflow_id: str = Field(description="The root's workflow")
    suspended_execution_id: str | None = None
    suspended_workflow_id: str | None = None
    response: Any = Field(default=None, description="The accepted response (when answered)")
    approval_url: str
    expires_at: datetime | None = None


class ApprovalSubmit(_Request):
    """What a person answers; the suspended run receives ``data``."""

    data: Any = None


class ApprovalSubmitted(BaseModel):
    execution_id: str
    step_key: str
    status: Literal["resumed"] = "resumed"
    data: Any = None
    event_id: str
    sequence_id: int


# webhooks ------------------------------------------------------------------------------------
class WebhookResponse(RunResponse):
    pass


# retry and fork (routes/operations.py) ------------------------------------------------
class RetriedRun(RunResponse):
    """A run started again (same id) or a fork (a new id)."""

    status: Status
    parent_execution_id: str | None = None


class ForkRequest(_Request):
    """``POST /api/v1/executions/{execution_id}/fork``."""

    from_step: Text = Field(
        min_length=1,
        description="The recorded step to run anew; the steps recorded before it replay",
    )
    payload: Any = Field(default=None, description="The fork's input; null keeps the source's")


class ForkResponse(RetriedRun):
    forked_from: str
    from_step: str


class RetryFailedRequest(_Request):
    """``POST /api/v1/executions/retry_failed``: every field given must match."""

    workflow_id: Text | None = None
    since: datetime | None = Field(default=None, description="Failed at or after this time")
    until: datetime | None = Field(default=None, description="Failed before this time")
    error_contains: Text | None = Field(
        default=None, description="Text the stored error (type and message) holds, as typed"
    )
    limit: int = Field(default=1000, ge=1, le=10000)


class RetryFailedResponse(BaseModel):
    executions: list[RetriedRun]
