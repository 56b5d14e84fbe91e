"""Polos: durable execution for AI agents and workflows, in plain async Python."""

from .engine.context import WorkflowContext
from .engine.step_decorator import step
from .engine.steps import Step
from .errors import (
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
    WorkflowDefinitionError,
    WorkflowFailedError,
    WorkflowNotFoundError,
    WorkflowTimeoutError,
)
from .runtime.client import PolosClient
from .runtime.models import ExecutionHandle, ExecutionInfo, HistoryEntry, StepInfo
from .runtime.polos import Polos
from .runtime.worker import Worker
from .runtime.workflow import Workflow, get_all_workflows, get_workflow, workflow

__version__ = "0.1.0"

__all__ = [
    "DuplicateStepKeyError",
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
    "RetryableError",
    "SerializationError",
    "Step",
    "StepExecutionError",
    "StepInfo",
    "StoreUnavailableError",
    "Worker",
    "Workflow",
    "WorkflowContext",
    "WorkflowDefinitionError",
    "WorkflowFailedError",
    "WorkflowNotFoundError",
    "WorkflowTimeoutError",
    "__version__",
    "get_all_workflows",
    "get_workflow",
    "step",
    "workflow",
]
