"""Plain records that cross the store interface.

JSON payloads travel as text: the store never interprets them. Times are
Unix epoch seconds (float) so that every backend and host agrees on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .vocabulary import Status, WaitKind

# The vocabulary's members under the names code imported before it was typed
# (:mod:`.vocabulary`); they are the same objects. Text fields of the rows
# below hold these words as read back from the database (plain strings).
QUEUED = Status.QUEUED
RUNNING = Status.RUNNING
WAITING = Status.WAITING
COMPLETED = Status.COMPLETED
FAILED = Status.FAILED
CANCELLED = Status.CANCELLED
WAIT_TIMER = WaitKind.TIMER
WAIT_EVENT = WaitKind.EVENT
WAIT_SUSPEND = WaitKind.SUSPEND
WAIT_CHILDREN = WaitKind.CHILDREN


@dataclass(slots=True)
class NewExecution:
    id: str
    workflow_id: str
    payload: str
    created_at: float
    parent_execution_id: str | None = None
    root_execution_id: str | None = None
    root_workflow_id: str | None = None
    step_key: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    child_index: int | None = None
    run_timeout_seconds: float | None = None
    state: str | None = None
    queue_name: str = ""
    concurrency_key: str = ""
    priority: int = 0
    idempotency_key: str | None = None
    schedule_id: str | None = None
    deployment_id: str | None = None
    #: W3C ``traceparent`` of the span that started the run (a parent's step,
    #: a caller's request), so its spans join that trace from any process.
    trace_context: str | None = None


@dataclass(slots=True)
class ExecutionRow:
    id: str
    workflow_id: str
    status: str
    payload: str
    result: str | None
    error: str | None
    attempt: int
    owner: str | None
    lease_expires_at: float | None
    wait_step_key: str | None
    wait_kind: str | None
    wake_at: float | None
    created_at: float
    started_at: float | None
    updated_at: float
    completed_at: float | None
    parent_execution_id: str | None
    root_execution_id: str | None
    root_workflow_id: str | None
    step_key: str | None
    session_id: str | None
    user_id: str | None
    child_index: int | None = None
    pending_children: int = 0
    wait_topic: str | None = None
    wait_cursor: int | None = None
    wait_data: str | None = None
    run_timeout_seconds: float | None = None
    deadline_at: float | None = None
    initial_state: str | None = None
    state: str | None = None
    queue_name: str = ""
    concurrency_key: str = ""
    priority: int = 0
    idempotency_key: str | None = None
    schedule_id: str | None = None
    deployment_id: str | None = None
    trace_context: str | None = None
    #: The class a Polos SDK worker named for the result (``module.Class`` of a
    #: pydantic model), so that an SDK reading the result rebuilds it.
    output_schema_name: str | None = None


#: The execution columns every query selects, in ExecutionRow's field order.
EXECUTION_COLUMNS = ", ".join(ExecutionRow.__dataclass_fields__)


@dataclass(slots=True)
class StepRow:
    """One recorded step. Rows are never updated once written."""

    step_key: str
    kind: str
    name: str
    output: str | None
    error: str | None
    attempt: int
    created_at: float
    execution_id: str = ""
    #: Snapshot of the workflow state after this step, when the step changed it.
    state: str | None = None
    #: When the step began (None when unknown: waits the store resolved, older rows).
    started_at: float | None = None


#: The step columns every query selects, in StepRow's field order.
STEP_COLUMNS = ", ".join(StepRow.__dataclass_fields__)


@dataclass(slots=True)
class HistoryRow:
    execution_id: str
    seq: int
    at: float
    event: str
    attempt: int
    detail: str | None


@dataclass(slots=True)
class Claimed:
    """An execution handed to one worker, with every step it recorded so far."""

    execution: ExecutionRow
    steps: list[StepRow] = field(default_factory=list)
    #: The last event sequence id committed when the run was submitted, stored
    #: with it (the same on every attempt): the run's event waits read after it.
    event_cursor: int = 0


@dataclass(slots=True)
class WorkerRow:
    worker_id: str
    hostname: str
    pid: int
    started_at: float
    heartbeat_at: float
    deployment_id: str | None = None
    #: Older deployments this worker also serves (``"*"``: any), besides its own.
    serve_deployments: tuple[str, ...] = ()
    #: A worker sent its runs over HTTP (a Polos SDK worker of ``polos server``): its
    #: push endpoint; None for our own workers, which claim from the database.
    push_url: str | None = None
    #: How many runs the push endpoint takes at once (None: no limit said).
    capacity: int | None = None
    #: The workflows, agents and tools a push worker runs.
    serves: tuple[str, ...] = ()
    #: False while a push worker is still registering (not yet ready for runs).
    online: bool = True


@dataclass(slots=True)
class HeldRun:
    """A running execution and the worker that holds it (the attempt its lease is for)."""

    execution_id: str
    owner: str
    attempt: int


@dataclass(slots=True)
class ServedWorkflow:
    """A workflow some worker serves here, as that worker described it."""

    workflow_id: str
    queue_name: str
    workflow_type: str = "workflow"  # "workflow", "agent" or "tool"
    deployment_id: str | None = None
    #: JSON text: an agent's provider, model and tools, a tool's parameters; None for a workflow.
    definition: str | None = None
    updated_at: float = 0.0  # when a worker last described it
    created_at: float = 0.0  # when a worker first served it


@dataclass(slots=True)
class NewEvent:
    id: str
    topic: str
    event_type: str | None
    data: str
    created_at: float


@dataclass(slots=True)
class EventRow:
    seq: int
    id: str
    topic: str
    event_type: str | None
    data: str
    created_at: float


@dataclass(slots=True)
class TopicRow:
    """A topic of the event log: how many events it holds, and its last one."""

    topic: str
    count: int
    last_seq: int
    last_at: float


@dataclass(slots=True)
class ScheduleRow:
    schedule_id: str
    workflow_id: str
    key: str
    cron: str
    timezone: str
    next_fire_at: float
    last_fire_at: float | None
    created_at: float
    updated_at: float


@dataclass(slots=True)
class TriggerRow:
    workflow_id: str
    topic: str
    batch_size: int
    batch_timeout_seconds: float | None
    cursor: int
    updated_at: float


@dataclass(slots=True)
class WaitResult:
    """What ``wait_for_event`` did: refused (fenced), resolved at once, or parked."""

    accepted: bool
    output: str | None = None  # the event, when an event already waiting was taken

    @property
    def parked(self) -> bool:
        return self.accepted and self.output is None


@dataclass(slots=True)
class QueueRow:
    name: str
    concurrency_limit: int | None
    rate_limit: int | None
    rate_period: float | None
    updated_at: float

    @property
    def limited(self) -> bool:
        return self.concurrency_limit is not None or self.rate_limit is not None


#: ``queue_counts``'s key limit when every key is wanted (a bigint, as PostgreSQL compares it).
ALL_KEYS = 2**62


@dataclass(slots=True)
class QueueCount:
    """How many active executions of one queue are queued, running and waiting:
    in all (``concurrency_key`` None; ``key_count`` is then how many keys of
    the queue have active executions), or under one concurrency key."""

    queue_name: str
    concurrency_key: str | None
    queued: int
    running: int
    waiting: int
    key_count: int | None


@dataclass(slots=True)
class RetryOutcome:
    """What ``Store.retry_execution`` did (see :mod:`.retries`)."""

    #: The row after; unchanged when the run was refused.
    execution: ExecutionRow
    #: False when the run was not failed or cancelled (nothing changed).
    retried: bool
    #: Step keys whose records were removed so that they run again.
    cleared_steps: list[str] = field(default_factory=list)
    #: Children (and their descendants) retried with it.
    children: list[str] = field(default_factory=list)
