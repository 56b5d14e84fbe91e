"""``WorkflowContext``: what a running workflow knows about itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..types import workflow_topic
from .run import ExecutionRun
from .steps import Step
from .versioning import PatchCheck


def _dt(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


class WorkflowContext:
    """Passed as the first argument of every workflow."""

    def __init__(self, run: ExecutionRun) -> None:
        row = run.row
        self._run = run
        self.execution_id: str = row.id
        self.workflow_id: str = row.workflow_id
        self.user_id: str | None = row.user_id
        self.session_id: str | None = row.session_id
        self.parent_execution_id: str | None = row.parent_execution_id
        self.root_execution_id: str = row.root_execution_id or row.id
        self.root_workflow_id: str = row.root_workflow_id or row.workflow_id
        self.step_key: str | None = row.step_key
        #: The deployment that started the run tree (else the worker's).
        self.deployment_id: str | None = row.deployment_id or run.deployment_id
        self.created_at: datetime = _dt(row.created_at) or datetime.now(UTC)
        self.started_at: datetime | None = _dt(row.started_at)
        self.step = Step(run)

    @property
    def attempt(self) -> int:
        """Which claim of this execution is running now: 1 on the first run; it grows
        each time the execution is claimed again (after a wait or a crash)."""
        return self._run.attempt

    @property
    def retry_count(self) -> int:
        """How many earlier attempts there were (``attempt - 1``)."""
        return self._run.attempt - 1

    @property
    def state(self) -> Any:
        """The workflow's state (an instance of its ``state_schema``), kept durably."""
        return self._run.state

    @state.setter
    def state(self, value: Any) -> None:
        self._run.state = self._run.definition.initial_state(value)

    def patched(self, name: str) -> PatchCheck:
        """``await ctx.patched("name")``: whether this run takes the new code of a change.

        True for a run that reaches this point on code that has the patch; False
        for a run that passed this point before the patch existed (it replays
        steps recorded further on), so it keeps to the old branch. The answer is
        recorded and never changes for the run. See docs/durability.md.
        """
        return PatchCheck(name, lambda: self._run.patched(name))

    async def deprecate_patch(self, name: str) -> None:
        """``await ctx.deprecate_patch("name")`` where ``if await ctx.patched("name")`` was,
        once no run can take the old branch: runs that took the new one go on; one
        that took the old one fails with ``PatchRemovedError``."""
        await self._run.deprecate_patch(name)

    @property
    def topic(self) -> str:
        """The run tree's shared event topic (``workflow/<root wf>/<root run>``), read by
        ``events.stream_workflow``: every run of the tree publishes its events here."""
        return workflow_topic(self.root_workflow_id, self.root_execution_id)

    @property
    def workflow_type(self) -> str:
        """``"agent"``, ``"tool"`` or ``"workflow"``: what kind of definition is running."""
        return self._run.definition.kind

    def to_dict(self) -> dict[str, Any]:
        """The context's identifying fields as plain JSON values."""
        return {
            "workflow_id": self.workflow_id,
            "execution_id": self.execution_id,
            "deployment_id": self.deployment_id,
            "parent_execution_id": self.parent_execution_id,
            "root_execution_id": self.root_execution_id,
            "retry_count": self.retry_count,
            "created_at": self.created_at.isoformat(),
            "session_id": self.session_id,
            "user_id": self.user_id,
        }

    def __repr__(self) -> str:
        return f"<WorkflowContext {self.workflow_id} {self.execution_id} attempt={self.attempt}>"
