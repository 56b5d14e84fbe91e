"""Polos: durable execution for AI agents and workflows, in plain async Python."""

from . import events, schedules
from .engine.context import WorkflowContext
from .engine.queues import Queue, queue
from .engine.step_decorator import step
from .engine.steps import Step
from .errors import (
    ChildWorkflowError,
    DuplicateStepKeyError,
    ExecutionCancelledError,
    ExecutionNotFoundError,
    FatalError,
    InsideWorkflowError,
    InvalidPayloadError,
    NonDeterminismError,
    PayloadTooLargeError,
    PolosError,
    RetryableError,
    SerializationError,
    StepExecutionError,
    StoreUnavailableError,
    WaitTimeoutError,
    WorkflowDefinitionError,
    WorkflowFailedError,
    WorkflowNotFoundError,
    WorkflowTimeoutError,
)
from .runtime.client import PolosClient
from .runtime.models import ExecutionInfo, HistoryEntry, StepInfo
from .runtime.polos import Polos
from .runtime.worker import Worker
from .runtime.workflow import Workflow, batch_invoke, get_all_workflows, get_workflow, workflow
from .schedules import ScheduleInfo
from .types import (
    BatchStepResult,
    BatchWorkflowInput,
    EventData,
    EventPayload,
    ExecutionHandle,
    QueueStats,
    SchedulePayload,
    SuspendInfo,
)

__version__ = "0.1.0"

__all__ = [
    "BatchStepResult",
    "BatchWorkflowInput",
    "ChildWorkflowError",
    "DuplicateStepKeyError",
    "EventData",
    "EventPayload",
    "ExecutionCancelledError",
    "ExecutionHandle",
    "ExecutionInfo",
    "ExecutionNotFoundError",
    "FatalError",
    "HistoryEntry",
    "InsideWorkflowError",
    "InvalidPayloadError",
    "NonDeterminismError",
    "PayloadTooLargeError",
    "Polos",
    "PolosClient",
    "PolosError",
    "Queue",
    "QueueStats",
    "RetryableError",
    "ScheduleInfo",
    "SchedulePayload",
    "SerializationError",
    "Step",
    "StepExecutionError",
    "StepInfo",
    "StoreUnavailableError",
    "SuspendInfo",
    "WaitTimeoutError",
    "Worker",
    "Workflow",
    "WorkflowContext",
    "WorkflowDefinitionError",
    "WorkflowFailedError",
    "WorkflowNotFoundError",
    "WorkflowTimeoutError",
    "__version__",
    "batch_invoke",
    "events",
    "get_all_workflows",
    "get_workflow",
    "queue",
    "schedules",
    "step",
    "workflow",
]
