"""Data types shared by every layer: handles, events, batches, schedules.

They are plain pydantic models, so they can be step outputs and payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

#: Set by the runtime: finds the client to use when a handle was given none.
client_resolver: Callable[[], Any] | None = None


class ExecutionHandle(BaseModel):
    """A reference to an execution: inspect it, cancel it or await its result."""

    id: str
    workflow_id: str
    created_at: datetime | None = None
    parent_execution_id: str | None = None
    root_workflow_id: str | None = None
    root_execution_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    step_key: str | None = None
    _client: Any = PrivateAttr(default=None)

    @property
    def execution_id(self) -> str:
        return self.id

    def bind(self, client: Any) -> ExecutionHandle:
        self._client = client
        return self

    def _pick(self, client: Any) -> Any:
        if client is not None:
            return client
        if self._client is not None:
            return self._client
        if client_resolver is None:  # pragma: no cover - the runtime always sets it
            raise RuntimeError("no Polos client is available; pass one explicitly")
        return client_resolver()

    def to_dict(self) -> dict[str, Any]:
        """The handle's fields as plain JSON values (as Polos's ``to_dict``)."""
        return self.model_dump(mode="json")

    async def get(self, client: Any = None) -> Any:
        """The execution's current ``ExecutionInfo`` (readable as Polos's dict too:
        ``(await handle.get(client))["status"]``)."""
        return await self._pick(client).get_execution(self.id)

    async def cancel(self, client: Any = None) -> bool:
        """Cancel the execution; whether it is now cancelled."""
        cancelled: bool = await self._pick(client).cancel_execution(self.id)
        return cancelled

    async def result(self, client: Any = None, timeout: float | None = 600.0) -> Any:
        """Wait for the execution to finish and return its result (or raise its error)."""
        return await self._pick(client).wait_for_result(self.id, timeout=timeout)


class BatchWorkflowInput(BaseModel):
    """One run of a batch: the workflow id (or object) and its payload."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: Any
    payload: Any = None
    session_id: str | None = None
    user_id: str | None = None
    initial_state: Any = None
    run_timeout_seconds: float | None = None
    #: A queue name, a ``Queue`` or a dict; default: the workflow's queue.
    queue: Any = None
    concurrency_key: str | None = None
    #: Higher starts first within a queue; FIFO among equals.
    priority: int = 0
    #: A second invoke with the same key returns the first execution instead.
    idempotency_key: str | None = None

    @property
    def workflow_id(self) -> str:
        return self.id if isinstance(self.id, str) else str(self.id.id)


class BatchStepResult(BaseModel):
    """The outcome of one child of a batch, in the order of the inputs."""

    workflow_id: str
    execution_id: str
    success: bool
    result: Any = None
    error: dict[str, Any] | None = None
    status: str = "completed"


class EventData(BaseModel):
    """What a publisher sends: an optional type and any storable data."""

    event_type: str | None = None
    data: Any = None


class EventPayload(BaseModel):
    """An event as stored in its topic's log."""

    id: str
    sequence_id: int
    topic: str
    event_type: str | None = None
    data: Any = None
    created_at: datetime


class SchedulePayload(BaseModel):
    """The payload a scheduled workflow receives at each tick."""

    timestamp: datetime
    last_timestamp: datetime | None = None
    timezone: str
    schedule_id: str
    key: str
    upcoming: datetime | None = None
    #: Ticks skipped because no worker ran at their time (see docs: catch-up policy).
    missed_ticks: int = 0


class SuspendInfo(BaseModel):
    """A run paused at ``ctx.step.suspend``, waiting for a human."""

    execution_id: str
    workflow_id: str
    step_key: str
    data: Any = None
    since: datetime
    timeout_at: datetime | None = None
    session_id: str | None = None
    user_id: str | None = None


def suspend_topic(root_execution_id: str, step_key: str) -> str:
    """The topic a suspend listens on; publishing to it resumes the run.

    Keyed by the run tree's root, as Polos addresses a resume (root ids and a
    step key), so a suspend inside a child workflow or an agent's tool is
    resumed with the ids the caller holds.
    """
    return f"polos.resume/{root_execution_id}/{step_key}"


def check_topic(topic: object) -> str:
    """Return ``topic`` if it can name a topic, else raise ``TypeError``."""
    if not isinstance(topic, str) or not topic:
        raise TypeError(f"an event topic must be a non-empty string, got {topic!r}")
    return topic


def workflow_topic(root_workflow_id: str, root_execution_id: str) -> str:
    """The topic shared by a whole run tree (Polos's ``workflow/<root wf>/<root run>``):
    suspends, agent text and tool calls, and ``ctx.step.publish_workflow_event``."""
    return f"workflow/{root_workflow_id}/{root_execution_id}"


class EventItem(EventPayload):
    """One event of a :class:`BatchEventPayload` (Polos names it apart; same fields)."""


class BatchEventPayload(BaseModel):
    """The payload of an event-triggered workflow that takes events in batches."""

    events: list[EventItem] = Field(default_factory=list)


class StreamEvent(BaseModel):
    """One event of ``events.stream_topic`` / ``events.stream_workflow``.

    ``data`` is the published data as JSON values (a dict when a dict was
    published, as Polos requires); lifecycle events carry ``_metadata`` with
    the ``execution_id`` and ``workflow_id`` they describe. ``created_at`` is
    an ISO 8601 string.
    """

    id: str
    sequence_id: int
    topic: str
    event_type: str | None = None
    data: Any = Field(default_factory=dict)
    created_at: str | None = None


class ResumeEvent(dict[str, Any]):
    """What ``ctx.step.suspend`` returns: the resume event as the dict Polos returns
    (``{"id", "sequence_id", "topic", "event_type", "data", "created_at"}``), so
    ``resume.get("data", {})`` works; ``resume.data`` and the other keys read as
    attributes too."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class QueueStats(BaseModel):
    """A queue's limits and how many of its executions are in each active status."""

    name: str
    concurrency_limit: int | None = None
    rate_limit: int | None = None
    rate_period: float | None = None
    queued: int = 0
    running: int = 0
    waiting: int = 0
    #: concurrency key ('' for none) -> {status: count}; with ``max_keys``, only
    #: the keys with the most active executions
    by_key: dict[str, dict[str, int]] = {}
    #: how many concurrency keys have active executions (``by_key`` may hold fewer)
    key_count: int = 0


def __getattr__(name: str) -> Any:
    # ``from polos.types import AgentResult`` (as Polos code writes it) without a
    # circular import: the agents package imports this module.
    import importlib

    polos_types = importlib.import_module("polos.types.types")
    if name in polos_types._AGENT_NAMES:
        return getattr(polos_types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
