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
from .records import WAIT_CHILDREN, WAIT_TIMER, EventRow


@dataclass(frozen=True, slots=True)
class Resolution:
    step_kind: str
    output: str | None
    error: str | None
    by: str


#: A durable sleep's step is a ``wait`` step whose output is ``None``.
TIMER_FIRED = Resolution("wait", "null", None, "timer")


def due(step_key: str, wait_kind: str) -> Resolution:
    """A wait whose wake-up time has come: a sleep ends, any other wait times out."""
    if wait_kind == WAIT_TIMER:
        return TIMER_FIRED
    return Resolution(wait_kind, None, payloads.timeout_error_json(step_key, wait_kind), "timeout")


def by_event(wait_kind: str, event: EventRow) -> Resolution:
    """An event wait (or a suspend) receives ``event``."""
    return Resolution(wait_kind, payloads.event_json(event), None, "event")


def by_children(children: payloads.ChildOutcomes) -> Resolution:
    """The last child of a batch ended: every child's outcome, in input order."""
    return Resolution(WAIT_CHILDREN, payloads.children_json(children), None, "children")
