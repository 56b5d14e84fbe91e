"""What retrying or forking a run changes, decided once for every backend.

A retry continues the SAME execution: its recorded steps stay and replay, the
records of steps that failed are removed (with the durable pauses of their
step retries, ``<key>::retry<n>``) so those steps run anew, and the run goes
back to the queue. Children a run waited for in a step (``invoke_and_wait``,
``batch_invoke_and_wait``) and that failed or were cancelled are retried with
it, under their own ids, and the parent waits for them again in that step,
whose outcome is then written from every child of the step, as the first time.
Only the earliest such step of a run is redone (a run waits in one step at a
time; a later one that showed a failure replays as recorded). Fire-and-forget
children (``invoke``) are runs of their own: retry them by id.

A fork is a NEW run of the same workflow holding copies of the source's step
records made before a given step; the backends copy what :func:`fork_keys`
lists, in the transaction that creates the run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from .records import StepRow
from .vocabulary import Status, StepKind

#: The statuses a run may be retried from.
RETRYABLE = (Status.FAILED, Status.CANCELLED)
_RETRY_PAUSE = re.compile(r"^(?P<key>.*)::retry\d+$")


@dataclass(frozen=True, slots=True)
class ChildLink:
    """One child of a run: its id, the parent's step that started it, its status."""

    id: str
    step_key: str
    status: str


@dataclass(slots=True)
class ChildrenRedo:
    """A parent's step whose children are retried and waited for again."""

    step_key: str
    #: The failed or cancelled children of that step, to retry.
    retry: list[str] = field(default_factory=list)


def _base_key(step_key: str) -> str | None:
    match = _RETRY_PAUSE.match(step_key)
    return match.group("key") if match else None


def steps_to_clear(steps: Sequence[StepRow]) -> list[str]:
    """The failed steps' keys, and the durable pauses of their step retries."""
    failed = {s.step_key for s in steps if s.error is not None}
    return [s.step_key for s in steps if s.step_key in failed or _base_key(s.step_key) in failed]


def _shows_failure(output: str | None) -> bool:
    """Whether a children step's recorded outcomes include a child that did not succeed."""
    try:
        outcomes = orjson.loads(output or "[]")
    except orjson.JSONDecodeError:
        return False
    return isinstance(outcomes, list) and any(
        isinstance(o, dict) and not o.get("success", True) for o in outcomes
    )


def children_to_redo(
    steps: Sequence[StepRow], children: Sequence[ChildLink]
) -> ChildrenRedo | None:
    """The earliest step of the run whose waited-for children must run again.

    ``children`` in the order they were created. A step qualifies when it is
    not recorded (the run was cancelled or failed while waiting in it), its
    record is an error (a wait timeout), its outcomes show a child that did
    not succeed, or a child of it is not completed now.
    """
    recorded = {s.step_key: s for s in steps}
    groups: dict[str, list[ChildLink]] = {}
    for child in children:
        groups.setdefault(child.step_key, []).append(child)
    for key, group in groups.items():
        record = recorded.get(key)
        if record is not None and record.kind != StepKind.CHILDREN:
            continue  # fire-and-forget children: runs of their own
        if (
            record is None
            or record.error is not None
            or _shows_failure(record.output)
            or any(c.status != Status.COMPLETED for c in group)
        ):
            return ChildrenRedo(key, [c.id for c in group if c.status in RETRYABLE])
    return None


def fork_keys(steps: Sequence[StepRow], from_step: str) -> list[str] | None:
    """The keys of the steps recorded before ``from_step`` (in recording order), which
    a fork copies; None when ``from_step`` is not recorded. The durable pauses of
    ``from_step``'s own retries are left out: in the fork it starts afresh."""
    keys = [s.step_key for s in steps]
    if from_step not in keys:
        return None
    before = keys[: keys.index(from_step)]
    return [k for k in before if _base_key(k) != from_step]


def retry_detail(
    previous_status: str,
    cleared: Sequence[str],
    children: Sequence[str],
    by: str | None = None,
) -> str:
    """The ``retried`` history entry's detail."""
    detail: dict[str, object] = {
        "previous_status": previous_status,
        "cleared_steps": list(cleared),
        "children": list(children),
    }
    if by is not None:
        detail["by"] = by
    return orjson.dumps(detail).decode()
