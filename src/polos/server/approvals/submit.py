"""Answering an approval exactly once, however many submit at the same moment.

Each submission publishes its own resume event on the suspend's topic
(``PolosClient.resume``). The suspend takes the first event on that topic,
and the store records which one in the same transaction as the publish that
resolves the wait (the step's output is that event). So after publishing, a
submission reads the suspend's recorded step: it was accepted if and only if
the recorded event is its own. A later (or concurrent) one finds another
event recorded and is refused with 409; its event stays on the topic unread.
This holds across any number of server processes and against resumes sent
by other clients (``polos resume``, ``client.resume``), because the decision
is the store's. Submissions in one process also take turns on a lock, so
that the second one is refused before it publishes anything.

A run announces a suspend (its ``suspend_<key>`` event, a recorded step)
just before it parks there; a person or program answering at once, from the
announcement, may arrive in between. So a submission for a step that was
announced but is not waited at yet waits (``REACH_SECONDS`` at most) for the
run to get there, instead of being refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ... import serialization
from ...engine.steps_events import ANNOUNCE_SUFFIX
from ...types import EventPayload
from ..errors import ApiError, client_errors, conflict
from ..state import ServerState
from .lookup import PENDING, WAITING_STATUS, Approval, find_approval, refusal_message

#: How long a submission waits for a run that announced the suspend to park there.
REACH_SECONDS = 5.0


async def submit(
    state: ServerState, execution_id: str, step_key: str, data: Any
) -> tuple[Approval, EventPayload]:
    """Resume the run waiting at ``step_key`` with ``data``; 409 unless this call did it."""
    key = (execution_id, step_key)
    lock = state.approval_locks.get(key)
    if lock is None:
        lock = state.approval_locks[key] = asyncio.Lock()
    async with lock:
        approval = await find_approval(state, execution_id, step_key)
        if approval.status == PENDING and await _announced(state, approval):
            approval = await _reached(state, execution_id, step_key, approval)
        if approval.status != WAITING_STATUS or approval.run is None:
            raise conflict(refusal_message(approval))
        with client_errors(arguments=True):
            event = await state.client.resume(
                approval.root_workflow_id, approval.root.id, step_key, data
            )
        if not await _accepted(state, approval, event):
            raise conflict(await _lost(state, execution_id, step_key))
        return approval, event


async def _announced(state: ServerState, approval: Approval) -> bool:
    """Whether a run of the tree has announced the suspend at this step."""
    key = f"{approval.step_key}{ANNOUNCE_SUFFIX}"
    for run in await state.store.list_run_tree(approval.root.id):
        if await state.store.get_step(run.id, key) is not None:
            return True
    return False


async def _reached(
    state: ServerState, execution_id: str, step_key: str, approval: Approval
) -> Approval:
    """``approval`` once its run waits at the step, or as it stands after ``REACH_SECONDS``."""
    deadline = asyncio.get_running_loop().time() + REACH_SECONDS
    while approval.status == PENDING and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        approval = await find_approval(state, execution_id, step_key)
    return approval


async def _accepted(state: ServerState, approval: Approval, event: EventPayload) -> bool:
    assert approval.run is not None
    step = await state.store.get_step(approval.run.id, approval.step_key)
    if step is None or step.error is not None or step.output is None:
        return False
    recorded = serialization.loads(step.output, strict=False)
    return isinstance(recorded, dict) and recorded.get("id") == event.id


async def _lost(state: ServerState, execution_id: str, step_key: str) -> str:
    try:
        now = await find_approval(state, execution_id, step_key)
    except ApiError:
        return f"step {step_key!r} of run {execution_id} can no longer be answered"
    if now.status == "answered":
        return (
            f"another response to step {step_key!r} of run {now.root.id} was accepted first; "
            "yours was not applied"
        )
    return refusal_message(now)
