"""``polos.core.workflow``: workflows and the errors Polos code catches around them."""

from ..errors import StepExecutionError, WorkflowTimeoutError
from ..runtime.workflow import Workflow, get_all_workflows, get_workflow, workflow

__all__ = [
    "StepExecutionError",
    "Workflow",
    "WorkflowTimeoutError",
    "get_all_workflows",
    "get_workflow",
    "workflow",
]
