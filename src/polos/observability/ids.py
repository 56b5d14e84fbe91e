"""The OpenTelemetry ids of a run, from what is stored with it.

Pure functions (no OpenTelemetry import), shared by the tracer, which makes
the ids, and the dashboard, which shows them:

- a run stored with a W3C ``traceparent`` (``executions.trace_context``: the
  span of the parent run's step that started it, or the span current when it
  was invoked) belongs to that traceparent's trace, under that span;
- a run started outside any trace is the root of a trace whose id is its root
  execution id's 128 bits (as Polos does), when it is a UUID.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceParent:
    trace_id: str
    #: The span the run's own span hangs under.
    parent_span_id: str
    sampled: bool


def parse_traceparent(value: str | None) -> TraceParent | None:
    """A stored traceparent's parts, or None when absent or not a valid one."""
    match = _TRACEPARENT.match((value or "").strip().lower())
    if match is None or match[1] == "ff":
        return None
    trace_id, span_id = match[2], match[3]
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, bool(int(match[4], 16) & 1))


def execution_trace_id(execution_id: str) -> int | None:
    """The trace id a root run started outside any trace takes: its id's 128 bits,
    or None when the id is not a UUID (the trace id is then random)."""
    try:
        return uuid.UUID(execution_id).int or None
    except ValueError:
        return None


def run_trace_id(root_execution_id: str, root_trace_context: str | None) -> str | None:
    """The trace id (32 hex digits) of a run tree, from its root: the stored
    traceparent's, else the root id's; None when it cannot be known (an id that
    is not a UUID, or a stored traceparent that is not valid: both get a random
    trace id)."""
    if root_trace_context:
        parent = parse_traceparent(root_trace_context)
        return parent.trace_id if parent is not None else None
    number = execution_trace_id(root_execution_id)
    return None if number is None else f"{number:032x}"
