"""What an SDK worker reports about a run it was pushed (``/internal/executions/{id}/...``).

Steps. The SDK asks for a step's record before running it
(``GET .../steps/{step_key}``: 404 when there is none, so it runs the step) and
records it after (``POST .../steps``). We keep SDK steps as our own ``run``
steps: the output as stored JSON, the error as stored JSON, and what only the
SDK needs back (the pydantic class to rebuild, the run a step's output came
from, a success flag that disagrees with the error) as a small JSON object in
the step's ``name``. Records are exactly-once: the first write of a key wins
and a second is answered 200 without changing anything (the SDK re-records
nothing on replay, it reads). A write to a run that is no longer running
(completed, failed, cancelled, waiting, or requeued after its worker was
declared dead) is refused with 409.

polos-sdk's step calls carry no worker id, so such a step write cannot be
fenced to the attempt that made it: it is written under the run's current
attempt. What stops a zombie worker is that its run is no longer ``running``
(requeued, or finished elsewhere), and first-write-wins for a key the new
attempt already recorded. @polos/sdk sends ``X-Worker-ID`` on every call:
its step writes from a worker that does not hold the run are refused (409). Completion and failure do carry the worker id: one from a worker
that does not hold the run (its lease was lost and the run pushed elsewhere)
is refused with 409, as Polos's orchestrator does, and changes nothing. A
failure the SDK calls retryable starts the run again, as Polos does, up to
``POLOS_MAX_RETRIES`` times.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from ...store import Store
from ...store.records import ExecutionRow, StepRow
from ...store.vocabulary import HistoryEvent, Status, StepKind
from ..endpoint import Endpoint
from ..errors import conflict, not_found
from ..http import Text, body, json_response, path_text
from ..models import _Request
from ..state import ServerState, server_state
from .dispatch import plain_json
from .registry import TAG, Accepted

#: The keys of the SDK-only facts kept in an SDK step's ``name``.
_EXTRAS = ("output_schema_name", "source_execution_id", "success")


class StepOutputRequest(_Request):
    """What the SDK's ``store_step_output`` sends."""

    step_key: Text = Field(min_length=1)
    outputs: Any = None
    error: Any = None
    success: bool | None = True
    source_execution_id: Text | None = None
    output_schema_name: Text | None = None


class CompleteRequest(_Request):
    worker_id: Text = Field(min_length=1)
    result: Any = None
    output_schema_name: Text | None = None
    final_state: Any = None


class FailRequest(_Request):
    worker_id: Text = Field(min_length=1)
    error: str = "the workflow failed"
    stack: str | None = None
    retryable: bool | None = None
    final_state: Any = None


class WorkerIdRequest(_Request):
    worker_id: Text | None = None


class OtelSpanRequest(_Request):
    otel_span_id: Text | None = None


class StepRecord(_Request):
    """One step as Polos's orchestrator returns it to an SDK."""

    step_key: str
    outputs: Any = None
    error: Any = None
    success: bool | None = None
    source_execution_id: str | None = None
    output_schema_name: str | None = None


class StepRecords(_Request):
    steps: list[StepRecord]


async def _row(store: Store, execution_id: str) -> ExecutionRow:
    row = await store.get_execution(execution_id)
    if row is None:
        raise not_found("execution", f"no execution {execution_id!r} here")
    return row


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


def step_record(step: StepRow) -> dict[str, Any]:
    """An SDK step (or a plain step of ours) in the shape the SDK reads."""
    extras: dict[str, Any] = {}
    if step.name.startswith("{"):
        try:
            extras = orjson.loads(step.name)
        except orjson.JSONDecodeError:
            extras = {}
    error = None if step.error is None else plain_json(step.error)
    success = extras.get("success", error is None)
    return StepRecord(
        step_key=step.step_key,
        outputs=plain_json(step.output),
        error=error,
        success=success,
        source_execution_id=extras.get("source_execution_id"),
        output_schema_name=extras.get("output_schema_name"),
    ).model_dump()


async def _sdk_record(store: Store, execution_id: str, step: StepRow) -> dict[str, Any]:
    # Waits and child workflows resolved by the store are shaped by waits.py.
    from .waits import sdk_step_record

    shaped = await sdk_step_record(store, execution_id, step)
    return shaped if shaped is not None else step_record(step)


# steps ----------------------------------------------------------------------------------------
async def store_step(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    req = await body(request, StepOutputRequest, state.settings.max_body_bytes)
    store = state.store
    row = await _row(store, execution_id)
    if await store.get_step(execution_id, req.step_key) is not None:
        return json_response(Accepted())  # first write wins
    if row.status != Status.RUNNING:
        raise _not_running(row, f"step {req.step_key!r}")
    sender = request.headers.get("x-worker-id")
    if sender and row.owner != sender:
        # @polos/sdk names its worker on every call: then a step write is fenced too.
        raise conflict(
            f"step {req.step_key!r} refused: execution {execution_id} runs on worker "
            f"{row.owner}, not {sender}; it was taken back and runs elsewhere"
        )
    extras: dict[str, Any] = {
        "output_schema_name": req.output_schema_name,
        "source_execution_id": req.source_execution_id,
    }
    if req.success is not None and req.success != (req.error is None):
        extras["success"] = req.success
    extras = {k: v for k, v in extras.items() if v is not None}
    now = time.time()
    step = StepRow(
        step_key=req.step_key,
        kind=StepKind.RUN,
        name=_text(extras) if extras else "",
        output=_text(req.outputs),
        error=None if req.error is None else _text(req.error),
        attempt=row.attempt,
        created_at=now,
        started_at=None,
    )
    try:
        recorded = await store.record_step(execution_id, row.attempt, step)
    except Exception:
        # The same key recorded between our look and this write (SQLite refuses the
        # duplicate): the first write won. Anything else is the server's failure.
        if await store.get_step(execution_id, req.step_key) is None:
            raise
        recorded = True
    if recorded or await store.get_step(execution_id, req.step_key) is not None:
        return json_response(Accepted())
    raise _not_running(await _row(store, execution_id), f"step {req.step_key!r}")


async def get_step(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    step_key = path_text(request, "step_key")
    step = await state.store.get_step(execution_id, step_key)
    if step is None:
        raise not_found("step", f"no step {step_key!r} recorded for execution {execution_id!r}")
    return json_response(await _sdk_record(state.store, execution_id, step))


async def list_steps(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    await _row(state.store, execution_id)
    steps = [
        await _sdk_record(state.store, execution_id, s)
        for s in await state.store.list_steps(execution_id)
    ]
    for s in steps:
        s.pop("output_schema_name", None)  # Polos's list leaves it out
    return json_response({"steps": steps})


# outcomes -------------------------------------------------------------------------------------
def _not_running(row: ExecutionRow, what: str) -> Exception:
    return conflict(
        f"{what} refused: execution {row.id} is {row.status}, not running "
        "(cancelled, finished, or taken back after its worker stopped answering)"
    )


async def _held_by(store: Store, execution_id: str, worker_id: str, what: str) -> ExecutionRow:
    row = await _row(store, execution_id)
    if row.status != Status.RUNNING or row.owner != worker_id:
        raise conflict(
            f"{what} refused: execution {execution_id} is not running on worker {worker_id} "
            f"(status {row.status}, held by {row.owner or 'no worker'}); "
            "it was taken back and runs elsewhere, or has ended"
        )
    return row


def _ended(state: ServerState, execution_id: str, ok: bool, what: str) -> Response:
    """The worker's report of a run's end: the run leaves the dispatcher's hands either
    way; ``ok`` False means the store refused the write (another worker took the run)."""
    state.dispatcher.ended(execution_id)
    if not ok:
        raise conflict(f"{what} refused: execution {execution_id} changed hands meanwhile")
    return json_response(Accepted())


async def complete(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    req = await body(request, CompleteRequest, state.settings.max_body_bytes)
    store = state.store
    row = await _held_by(store, execution_id, req.worker_id, "completion")
    if req.output_schema_name:
        # Kept so that an SDK parent waiting for this run rebuilds its pydantic result.
        await store.set_result_schema(execution_id, row.attempt, req.output_schema_name)
    final = None if req.final_state is None else _text(req.final_state)
    ok = await store.complete_execution(
        execution_id, row.attempt, _text(req.result), time.time(), state=final
    )
    return _ended(state, execution_id, ok, "completion")


async def fail(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    req = await body(request, FailRequest, state.settings.max_body_bytes)
    store = state.store
    row = await _held_by(store, execution_id, req.worker_id, "failure")
    if req.retryable is not False and await _retry(store, row, req.error):
        state.dispatcher.ended(execution_id)
        return json_response(Accepted())
    error = {"type": "Error", "module": "polos-sdk", "message": req.error, "attempts": row.attempt}
    if req.stack:
        error["stack"] = req.stack
    final = None if req.final_state is None else _text(req.final_state)
    ok = await store.fail_execution(
        execution_id, row.attempt, _text(error), time.time(), state=final
    )
    return _ended(state, execution_id, ok, "failure")


#: Polos's name for how many times a run whose failure is retryable is started again.
MAX_RETRIES_ENV = "POLOS_MAX_RETRIES"
#: Marks the history entries of these retries (``retried``, detail ``{"sdk_failure": ...}``).
_SDK_FAILURE = "sdk_failure"


def max_retries() -> int:
    raw = os.environ.get(MAX_RETRIES_ENV, "").strip()
    try:
        return max(0, int(raw)) if raw else 2
    except ValueError:
        return 2


async def _retry(store: Store, row: ExecutionRow, message: str) -> bool:
    """Hand a run whose failure the SDK calls retryable back to the queue, as Polos's
    orchestrator does up to ``POLOS_MAX_RETRIES`` times (default 2): the SDK counts on
    it for what its calls cannot retry (a step call cut off by a server restart). The
    next attempt replays the recorded steps. False when the retries are used up."""
    history = await store.list_history(row.id)
    done = sum(
        1 for h in history if h.event == HistoryEvent.RETRIED and _SDK_FAILURE in (h.detail or "")
    )
    if done >= max_retries():
        return False
    now = time.time()
    if not await store.release_execution(row.id, row.attempt, now):
        raise conflict(f"failure refused: execution {row.id} changed hands meanwhile")
    detail = {_SDK_FAILURE: message, "retry": done + 1, "of": max_retries()}
    await store.add_history(row.id, row.attempt, HistoryEvent.RETRIED, _text(detail), now)
    return True


async def confirm_cancellation(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    req = await body(request, WorkerIdRequest, state.settings.max_body_bytes)
    row = await _row(state.store, execution_id)
    if row.status == Status.RUNNING and req.worker_id and row.owner != req.worker_id:
        raise conflict(f"execution {execution_id} runs on worker {row.owner}, not {req.worker_id}")
    # The store cancelled the run when it was asked to; the worker has now stopped it.
    state.dispatcher.ended(execution_id)
    return json_response(Accepted())


async def otel_span_id(request: Request) -> Response:
    # The run's trace context is set when it is submitted; the span id the SDK
    # reports when a run parks is not kept (its spans carry it; see spans.py).
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    await body(request, OtelSpanRequest, state.settings.max_body_bytes)
    await _row(state.store, execution_id)
    return json_response(Accepted())


_BASE = "/internal/executions/{execution_id}"

ENDPOINTS = [
    Endpoint(
        "POST",
        f"{_BASE}/steps",
        store_step,
        "SDK worker: record a step (first write wins; 409 when the run is not running)",
        TAG,
        response=Accepted,
        body=StepOutputRequest,
        errors=(400, 404, 409, 413, 422),
    ),
    Endpoint(
        "GET",
        f"{_BASE}/steps",
        list_steps,
        "SDK worker: every recorded step of a run",
        TAG,
        response=StepRecords,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        f"{_BASE}/steps/{{step_key}}",
        get_step,
        "SDK worker: one recorded step (404 when not recorded)",
        TAG,
        response=StepRecord,
        errors=(404,),
        route_path=f"{_BASE}/steps/{{step_key:path}}",
    ),
    Endpoint(
        "POST",
        f"{_BASE}/complete",
        complete,
        "SDK worker: the run completed (409 from a worker that no longer holds it)",
        TAG,
        response=Accepted,
        body=CompleteRequest,
        errors=(400, 404, 409, 413, 422),
    ),
    Endpoint(
        "POST",
        f"{_BASE}/fail",
        fail,
        "SDK worker: the run failed (409 from a worker that no longer holds it)",
        TAG,
        response=Accepted,
        body=FailRequest,
        errors=(400, 404, 409, 413, 422),
    ),
    Endpoint(
        "POST",
        f"{_BASE}/confirm-cancellation",
        confirm_cancellation,
        "SDK worker: it stopped a cancelled run",
        TAG,
        response=Accepted,
        body=WorkerIdRequest,
        errors=(400, 404, 409, 413, 422),
    ),
    Endpoint(
        "PUT",
        f"{_BASE}/otel-span-id",
        otel_span_id,
        "SDK worker: the span id of a run that parks (accepted, not kept)",
        TAG,
        response=Accepted,
        body=OtelSpanRequest,
        errors=(400, 404, 413, 422),
    ),
]
