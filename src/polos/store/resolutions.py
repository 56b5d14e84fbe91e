"""How a wait ends: what the store records as the waiting step's outcome.

Every backend resolves waits in the transaction that ends them (a timer
or timeout firing, an event published, the last child finishing); this
module decides what that records, so the backends cannot drift apart. The
step's kind, output and error go in the steps table, ``by`` in the
``resumed`` history entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import payloads
from .records import EventRow
from .vocabulary import ResumedBy, StepKind, WaitKind


@dataclass(frozen=True, slots=True)
class Resolution:
    step_kind: StepKind
    output: str | None
    error: str | None
    by: ResumedBy


#: A durable sleep's step is a ``wait`` step whose output is ``None``.
TIMER_FIRED = Resolution(StepKind.WAIT, "null", None, ResumedBy.TIMER)


def due(step_key: str, wait_kind: str) -> Resolution:
    """A wait whose wake-up time has come: a sleep ends, any other wait times out.

    ``wait_kind`` is as read back from the store (a :class:`WaitKind` word).
    """
    kind = WaitKind(wait_kind)
    if kind is WaitKind.TIMER:
        return TIMER_FIRED
    error = payloads.timeout_error_json(step_key, kind)
    return Resolution(kind.step_kind, None, error, ResumedBy.TIMEOUT)


def by_event(wait_kind: str, event: EventRow) -> Resolution:
    """An event wait (or a suspend) receives ``event``."""
    step_kind = WaitKind(wait_kind).step_kind
    return Resolution(step_kind, payloads.event_json(event), None, ResumedBy.EVENT)


def by_children(children: payloads.ChildOutcomes) -> Resolution:
    """The last child of a batch ended: every child's outcome, in input order."""
    output = payloads.children_json(children)
    return Resolution(StepKind.CHILDREN, output, None, ResumedBy.CHILDREN)
