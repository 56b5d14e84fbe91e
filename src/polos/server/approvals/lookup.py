"""Where an approval stands: waiting for a person, answered, or not (or no longer) asked.

An approval is addressed as Polos does: the run tree's root execution id and
the suspend's step key (``/approve/<root>/<step_key>``); the run that suspends
may be the root or any run under it (a child workflow, an agent's tool). A
run's own id is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import serialization
from ...runtime.client import event_payload
from ...store import ExecutionRow
from ...store.records import WAIT_SUSPEND, WAITING
from ...types import suspend_topic
from ..errors import not_found
from ..state import ServerState

WAITING_STATUS = "waiting"
ANSWERED = "answered"
#: The run tree is active but not waiting at this step (not there yet, or past it).
PENDING = "pending"


@dataclass
class Approval:
    root: ExecutionRow
    step_key: str
    #: ``waiting``, ``answered``, ``pending``, or the finished root's status.
    status: str
    #: The suspended run, while it waits at the step.
    run: ExecutionRow | None = None
    #: What the suspend shows (while waiting).
    data: Any = None
    #: The accepted response's data (once answered).
    response: Any = None
    #: When the suspend times out (epoch seconds), while waiting.
    expires_at: float | None = None

    @property
    def root_workflow_id(self) -> str:
        return self.root.workflow_id


async def find_approval(state: ServerState, execution_id: str, step_key: str) -> Approval:
    store = state.store
    row = await store.get_execution(execution_id)
    if row is None:
        raise not_found(
            "execution",
            f"no run with id {execution_id!r} in this database; check the approval link",
        )
    root_id = row.root_execution_id or row.id
    root = row if root_id == row.id else await store.get_execution(root_id)
    if root is None:  # pragma: no cover - a child always has its root
        raise not_found("execution", f"run {execution_id} has no root run {root_id}")
    for run in await store.list_run_tree(root_id):
        if (
            run.status == WAITING
            and run.wait_kind == WAIT_SUSPEND
            and run.wait_step_key == step_key
        ):
            return Approval(
                root,
                step_key,
                WAITING_STATUS,
                run=run,
                data=serialization.loads(run.wait_data, strict=False),
                expires_at=run.wake_at,
            )
    # The suspend takes the first event ever published on its topic.
    first = await store.read_events(suspend_topic(root_id, step_key), 0, 1)
    if first:
        return Approval(root, step_key, ANSWERED, response=event_payload(first[0]).data)
    status = root.status if root.status in ("completed", "failed", "cancelled") else PENDING
    return Approval(root, step_key, status)


def refusal_message(approval: Approval) -> str:
    """Why ``approval`` cannot be answered now."""
    where = f"step {approval.step_key!r} of run {approval.root.id}"
    if approval.status == ANSWERED:
        return (
            f"{where} was already answered; a second response is refused (the run received "
            "the first one)"
        )
    if approval.status == PENDING:
        return (
            f"{where} is not waiting for a response now (the run has not reached it, or "
            "went past it); try again once it waits"
        )
    return f"run {approval.root.id} has already {approval.status}; there is nothing to approve"
