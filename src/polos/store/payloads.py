"""JSON documents the store writes itself, shared by every backend.

When an event resolves a wait, or the last child of a batch finishes, the
store records the waiting step's output in the same transaction; these build
that output. Stored JSON (event data, child results) is embedded as is.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from .records import EventRow
from .vocabulary import Status


def event_json(event: EventRow) -> str:
    return orjson.dumps(
        {
            "id": event.id,
            "sequence_id": event.seq,
            "topic": event.topic,
            "event_type": event.event_type,
            "data": orjson.Fragment(event.data),
            "created_at": event.created_at,
        }
    ).decode()


#: ``(execution_id, workflow_id, status, result, error)`` per child.
ChildOutcomes = Sequence[tuple[str, str, str, str | None, str | None]]


def children_json(children: ChildOutcomes) -> str:
    """``(execution_id, workflow_id, status, result, error)`` per child, in input order."""
    return orjson.dumps(
        [
            {
                "execution_id": eid,
                "workflow_id": wid,
                "status": status,
                "success": status == Status.COMPLETED,
                "result": orjson.Fragment(result) if result is not None else None,
                "error": orjson.Fragment(error) if error is not None else None,
            }
            for eid, wid, status, result, error in children
        ]
    ).decode()


def timeout_error_json(step_key: str, kind: str) -> str:
    return orjson.dumps(
        {
            "type": "WaitTimeoutError",
            "module": "polos.errors",
            "message": f"{kind} step {step_key!r} timed out",
            "attempts": 1,
        }
    ).decode()


CANCELLED_ERROR = orjson.dumps({"type": "ExecutionCancelledError", "message": "cancelled"}).decode()


def deadline_error_json(timeout: float | None) -> str:
    return orjson.dumps(
        {
            "type": "WorkflowTimeoutError",
            "module": "polos.errors",
            "message": f"the run exceeded run_timeout_seconds={timeout:g}"
            if timeout is not None
            else "the run exceeded its deadline",
        }
    ).decode()
