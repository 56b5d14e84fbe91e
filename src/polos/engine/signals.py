"""Internal exceptions that unwind a workflow coroutine.

They derive from ``BaseException`` so that ``except Exception`` in user code
cannot swallow them by accident.
"""

from __future__ import annotations

from enum import StrEnum


class StopReason(StrEnum):
    """Why a run stops at its next step (see ``ExecutionRun.stop``)."""

    FENCED = "fenced"  # a fenced write was refused: cancelled or taken over
    LEASE_EXPIRED = "lease expired"  # this worker may have been taken over
    LEASE_LOST = "lease lost or execution cancelled"  # the heartbeat said so
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"  # parked: a later attempt replays
    RELEASED = "released"  # handed back to the queue
    COMPLETED = "completed"
    FAILED = "failed"
    SHUTTING_DOWN = "worker shutting down"  # the run goes back to the queue


class Unwind(BaseException):
    """Stop running this attempt of the execution; the store already says why."""


class Suspended(Unwind):
    """The execution is parked as ``waiting``; a later attempt will replay it."""


class Stopped(Unwind):
    """This worker may no longer run the execution (cancelled, or lease lost)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
