"""The words the store keeps: statuses, step kinds, wait kinds, history events.

Each is a ``StrEnum``, so a member *is* its stored string (``Status.QUEUED
== "queued"``, and it binds to SQL and encodes to JSON as that string): the
database keeps exactly the words it always had, while code that writes them
names a member, and a misspelt word is a type error instead of a row nobody
matches. Rows read back carry plain strings; they compare equal to members.
The ``.sql`` files spell the same words; ``tests/test_vocabulary.py`` checks
that every word they use is one of these.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """An execution's status. A waiting execution holds no worker and no lease."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.WAITING)
FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


class WaitKind(StrEnum):
    """What a waiting execution waits for."""

    TIMER = "timer"
    EVENT = "event"
    SUSPEND = "suspend"
    CHILDREN = "children"

    @property
    def step_kind(self) -> StepKind:
        """The kind of the step that records how this wait ended (a sleep is a ``wait`` step)."""
        return StepKind.WAIT if self is WaitKind.TIMER else StepKind(self.value)


class StepKind(StrEnum):
    """Which ``ctx.step`` method recorded a step; replay checks it (non-determinism)."""

    RUN = "run"
    UUID = "uuid"
    NOW = "now"
    RANDOM = "random"
    WAIT = "wait"  # a durable sleep (and a retry's durable pause)
    PUBLISH = "publish"
    EVENT = "event"  # wait_for_event
    SUSPEND = "suspend"
    INVOKE = "invoke"  # children started without waiting: their handles
    CHILDREN = "children"  # children waited for: their outcomes
    PATCH = "patch"  # ctx.patched: which side of a code change the run is on


class HistoryEvent(StrEnum):
    """An entry of an execution's append-only history."""

    CREATED = "created"
    CLAIMED = "claimed"
    WAITING = "waiting"
    RESUMED = "resumed"
    STEP_RETRY = "step_retry"
    RELEASED = "released"
    LEASE_EXPIRED = "lease_expired"
    OWNER_DIED = "owner_died"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    COMPLETED = "completed"
    FAILED = "failed"
    #: A failed or cancelled run started again (``retry_execution``).
    RETRIED = "retried"
    #: On a fork: where it came from; on the run forked: the new run's id.
    FORKED = "forked"
    #: Recorded steps the current code did not reach (a renamed or removed step key).
    REPLAY_MISMATCH = "replay_mismatch"


class ResumedBy(StrEnum):
    """What ended a wait (``by`` in a ``resumed`` history entry)."""

    TIMER = "timer"
    TIMEOUT = "timeout"
    EVENT = "event"
    CHILDREN = "children"


class WorkflowType(StrEnum):
    """What a served workflow is (``workflow_type`` of the ``workflows`` table)."""

    WORKFLOW = "workflow"
    AGENT = "agent"
    TOOL = "tool"
