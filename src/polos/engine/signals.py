"""Internal exceptions that unwind a workflow coroutine.

They derive from ``BaseException`` so that ``except Exception`` in user code
cannot swallow them by accident.
"""

from __future__ import annotations


class Unwind(BaseException):
    """Stop running this attempt of the execution; the store already says why."""


class Suspended(Unwind):
    """The execution is parked as ``waiting``; a later attempt will replay it."""


class Stopped(Unwind):
    """This worker may no longer run the execution (cancelled, or lease lost)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
