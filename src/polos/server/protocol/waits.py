"""How a run served by a Polos SDK worker waits, and what it reads back when resumed.

The SDK waits in two moves: it tells the orchestrator what it waits for
(``POST /internal/executions/{id}/wait``: a timer, an event on a topic, or a
suspend) and then ends its task without completing the run. We park the run
in the store exactly as our own engine does (``begin_wait`` for a timer,
``wait_for_event`` for an event or a suspend), so the worker slot is free, the
scheduler's timers and the event log resolve the wait in the same transaction
that requeues the run, and the dispatcher pushes the run again. The SDK then
replays from the top and asks for each step's record
(``GET /internal/executions/{id}/steps/{step_key}``); for the steps a wait or
a child workflow resolved, :func:`sdk_step_record` turns our record into the
shape the SDK expects from Polos's orchestrator.

A suspend listens on the topic our own suspends use (``polos.resume/<root
run>/<step key>``) from its very beginning, so a resume sent early is kept;
a ``resume_<step key>`` event on the run tree's topic (what the SDK's
``resume`` publishes) is relayed there by the client's publish.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import Field
from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import Response

from ... import serialization
from ...store import Store
from ...store.records import ExecutionRow, StepRow
from ...store.vocabulary import Status, StepKind, WaitKind, WorkflowType
from ...types import suspend_topic, workflow_topic
from ..endpoint import Endpoint
from ..errors import bad_request, conflict, not_found
from ..http import Text, Topic, body, json_response, path_text
from ..models import _Request
from ..state import server_state

#: Polos's ``wait_type`` words and ours.
WAIT_TYPES = {"time": WaitKind.TIMER, "event": WaitKind.EVENT, "suspend": WaitKind.SUSPEND}
#: How far back (seconds) the event a suspend announced itself with is looked for.
_ANNOUNCE_WINDOW = 300.0


class WaitRequest(_Request):
    """What the SDK's ``_set_waiting`` sends (Polos's ``SetWaitingRequest``)."""

    step_key: Text = Field(min_length=1)
    wait_type: Text = Field(description="time, event or suspend")
    wait_until: str | None = Field(default=None, description="ISO 8601; a timer's end")
    wait_topic: Topic | None = None
    expires_at: str | None = Field(default=None, description="ISO 8601; an event wait's timeout")


class WaitResponse(_Request):
    execution_id: str


def parse_time(value: str | None, field: str) -> float | None:
    """An ISO 8601 time as epoch seconds (a naive one is UTC), or a 400 naming ``field``."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(
            f"{field} must be an ISO 8601 date and time (2026-01-31T12:00:00+00:00), got {value!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def running_row(
    store: Store, execution_id: str, what: str, worker_id: str | None = None
) -> ExecutionRow:
    """The execution an SDK callback is about, which must be running: a callback for
    a run that is waiting, finished or cancelled comes from a worker that no longer
    runs it (its lease was lost, or it was told to stop), and changes nothing. When
    the worker names itself (``X-Worker-ID``, sent by the TypeScript SDK) it must
    be the run's owner. The Python SDK sends no id: then the run's current attempt
    is the one the write is fenced on."""
    row = await store.get_execution(execution_id)
    if row is None:
        raise not_found("execution", f"no execution {execution_id!r} on this server")
    if row.status != Status.RUNNING:
        raise conflict(
            f"execution {execution_id} is {row.status}, not running, so its {what} is "
            "refused: the worker that sent it no longer runs it"
        )
    if worker_id and row.owner is not None and worker_id != row.owner:
        raise conflict(
            f"execution {execution_id} now runs on worker {row.owner}, not {worker_id}, so "
            f"its {what} is refused"
        )
    return row


async def not_recorded(store: Store, execution_id: str, step_key: str, what: str) -> None:
    """Refuse a wait on a step that already has its record: the SDK reads a step's
    record before it waits, so only a worker that lost the run (a zombie behind the
    run's new attempt) sends one, and parking the run there would stall it."""
    if await store.get_step(execution_id, step_key) is not None:
        raise conflict(
            f"step {step_key!r} of execution {execution_id} is already recorded, so this "
            f"{what} is refused: it comes from a worker replaying an older attempt"
        )


def worker_of(request: Request) -> str | None:
    """The worker a callback names itself as (``X-Worker-ID``), if it does."""
    return request.headers.get("x-worker-id") or None


async def set_waiting(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_text(request, "execution_id")
    req = await body(request, WaitRequest, state.settings.max_body_bytes)
    kind = WAIT_TYPES.get(req.wait_type)
    if kind is None:
        raise bad_request(
            f"wait_type {req.wait_type!r} is not one this server parks on; use one of "
            f"{', '.join(sorted(WAIT_TYPES))} (a child workflow parks when it is submitted "
            "with wait_for_subworkflow)"
        )
    store = state.store
    what = f"wait on step {req.step_key!r}"
    row = await running_row(store, execution_id, what, worker_of(request))
    await not_recorded(store, execution_id, req.step_key, what)
    now = state.client.clock.now()
    if kind is WaitKind.TIMER:
        wake_at = parse_time(req.wait_until, "wait_until")
        if wake_at is None:
            raise bad_request("a time wait needs wait_until (when the timer ends)")
        parked = await store.begin_wait(
            execution_id, row.attempt, req.step_key, kind, max(wake_at, now), now
        )
        if not parked:
            raise lost_run(execution_id, req.step_key)
        state.dispatcher.ended(execution_id)  # the worker's slot is free
        return json_response(WaitResponse(execution_id=execution_id))
    if not req.wait_topic:
        raise bad_request(f"a {req.wait_type} wait needs wait_topic (the topic it listens on)")
    timeout_at = parse_time(req.expires_at, "expires_at")
    if kind is WaitKind.EVENT:
        # As Polos: the events that count are those published from now on.
        topic, cursor, shown = req.wait_topic, await store.topic_position(req.wait_topic), None
    else:
        root = row.root_execution_id or row.id
        topic, cursor = suspend_topic(root, req.step_key), 0
        shown = await _announced(store, req.wait_topic, req.step_key, now)
    outcome = await store.wait_for_event(
        execution_id, row.attempt, req.step_key, kind, topic, cursor, timeout_at, shown, now
    )
    if not outcome.accepted:
        raise lost_run(execution_id, req.step_key)
    if not outcome.parked:
        # Already resolved (a resume sent before the suspend): the SDK ends its task
        # anyway, so the run goes back to the queue and the replay reads the record.
        await store.release_execution(execution_id, row.attempt, now)
    state.dispatcher.ended(execution_id)  # the worker's slot is free
    return json_response(WaitResponse(execution_id=execution_id))


def lost_run(execution_id: str, step_key: str) -> Exception:
    return conflict(
        f"execution {execution_id} could not wait on step {step_key!r}: it is no longer "
        "running on this attempt (cancelled, or taken over by another worker)"
    )


async def _announced(store: Store, topic: str, step_key: str, now: float) -> str | None:
    """The data the SDK's suspend published just before parking (``suspend_<key>``
    on the run tree's topic), kept as what the suspend shows (approval pages,
    ``list_suspended``)."""
    start = await store.topic_position(topic, published_by=now - _ANNOUNCE_WINDOW)
    shown = None
    while True:
        events = await store.read_events(topic, start, 500)
        for event in events:
            if event.event_type == f"suspend_{step_key}":
                shown = event.data
        if len(events) < 500:
            return shown
        start = events[-1].seq


# what a replaying SDK reads -------------------------------------------------------------
def plain(text: str | None) -> Any:
    """Stored JSON (ours, with type tags) as the plain JSON an SDK reads."""
    return to_jsonable_python(serialization.loads(text, strict=False), fallback=str)


def _record(
    step_key: str,
    outputs: Any,
    *,
    error: str | None = None,
    source: str | None = None,
    schema: str | None = None,
) -> dict[str, Any]:
    """One step as Polos's orchestrator returns it."""
    return {
        "step_key": step_key,
        "outputs": outputs,
        "error": None if error is None else {"message": error},
        "success": error is None,
        "source_execution_id": source,
        "output_schema_name": schema,
    }


def error_message(error_json: str | None) -> str:
    """The message of a stored error (ours: a dict with ``message``; else its text)."""
    value = plain(error_json)
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return str(value["message"])
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def sdk_step_record(store: Store, execution_id: str, step: StepRow) -> dict[str, Any] | None:
    """The record an SDK reads for ``step`` when a wait or a child workflow resolved it
    (timer, event, suspend, children); None for any other step (the caller shapes it).

    - a timer: ``{"success": true, "wait_until": ...}`` as outputs;
    - an event: the event (id, sequence_id, topic, event_type, data, created_at);
    - a suspend: the resume event, as Polos shows it (on the run tree's topic, typed
      ``resume_<step key>``);
    - a child waited for alone (``/run`` with ``wait_for_subworkflow``): its result
      as outputs, or its failure as the step's error;
    - a batch: one ``{workflow_id, success, result, result_schema_name, error}`` each.

    A wait that timed out is the step's error, as Polos records an expired wait.
    """
    kind = step.kind
    if kind not in (StepKind.WAIT, StepKind.EVENT, StepKind.SUSPEND, StepKind.CHILDREN):
        return None
    key = step.step_key
    if step.error is not None:
        return _record(key, None, error=error_message(step.error), source=execution_id)
    if kind == StepKind.WAIT:
        outputs = {"success": True, "wait_until": _iso(step.created_at)}
        return _record(key, outputs, source=execution_id)
    if kind in (StepKind.EVENT, StepKind.SUSPEND):
        event = orjson.loads(step.output or "null") or {}
        event["data"] = plain(orjson.dumps(event.get("data")).decode())
        if isinstance(event.get("created_at"), int | float):
            event["created_at"] = _iso(event["created_at"])
        if kind == StepKind.SUSPEND:
            row = await store.get_execution(execution_id)
            if row is not None:
                event["topic"] = workflow_topic(
                    row.root_workflow_id or row.workflow_id, row.root_execution_id or row.id
                )
            event["event_type"] = f"resume_{key}"
        return _record(key, event, source=execution_id)
    return await _children_record(store, key, step)


async def _children_record(store: Store, key: str, step: StepRow) -> dict[str, Any]:
    outcomes: list[dict[str, Any]] = orjson.loads(step.output or "[]")
    children = [await store.get_execution(o["execution_id"]) for o in outcomes]
    kinds = {s.workflow_id: s.workflow_type for s in await store.served_workflows()}
    schemas = [result_schema(c, kinds) for c in children]
    single = len(children) == 1 and children[0] is not None and children[0].child_index is None
    if single:
        [outcome], [schema] = outcomes, schemas
        source = outcome["execution_id"]
        if not outcome["success"]:
            error = _child_error(outcome)
            return _record(key, None, error=error, source=source)
        return _record(key, plain(_text(outcome["result"])), source=source, schema=schema)
    items = []
    for outcome, schema in zip(outcomes, schemas, strict=True):
        ok = bool(outcome["success"])
        items.append(
            {
                "execution_id": outcome["execution_id"],
                "workflow_id": outcome["workflow_id"],
                "success": ok,
                "result": plain(_text(outcome["result"])) if ok else None,
                "result_schema_name": schema if ok else None,
                "error": None if ok else _child_error(outcome),
            }
        )
    return _record(key, items)


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _child_error(outcome: dict[str, Any]) -> str:
    if outcome.get("status") == Status.CANCELLED:
        return f"child execution {outcome['execution_id']} was cancelled"
    return error_message(_text(outcome.get("error")))


#: The class the SDK rebuilds an agent's result as.
SDK_AGENT_RESULT = "polos.types.types.AgentResult"


def result_schema(row: ExecutionRow | None, kinds: dict[str, str]) -> str | None:
    """The SDK's name for the class of a child's result, which it rebuilds from the
    outputs (``module.Class``, imported by the parent's SDK):

    - an agent's result is an ``AgentResult`` (so ``agent_invoke_and_wait`` returns
      one, whichever kind of worker ran the agent);
    - any other child gives the class its SDK worker named when it completed
      (``output_schema_name``, kept on the child's run), as Polos's orchestrator
      hands it on, so a pydantic model comes back as that model;
    - a child our own workers ran names none: its result is read as plain JSON.
    """
    if row is None:
        return None
    if kinds.get(row.workflow_id) == WorkflowType.AGENT:
        return SDK_AGENT_RESULT
    return row.output_schema_name


ENDPOINTS = [
    Endpoint(
        "POST",
        "/internal/executions/{execution_id}/wait",
        set_waiting,
        "SDK worker: park a running execution on a timer, an event or a suspend",
        "Worker protocol",
        body=WaitRequest,
        response=WaitResponse,
        errors=(400, 404, 409, 413, 422),
    ),
]
