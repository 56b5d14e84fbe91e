"""``GET /api/v1/events/stream``: a topic, or a whole run tree, as Server-Sent Events.

Query parameters are those Polos's SDK sends: ``topic``, or ``workflow_id``
with ``workflow_run_id`` (the run tree, with Polos's event types, ending once
the root has finished); ``last_sequence_id`` or ``last_timestamp`` say where
to start, and without either the stream starts at the beginning (as Polos's
server does). A ``Last-Event-ID`` header (a reconnecting ``EventSource``)
takes precedence over both.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ... import events
from ...types import StreamEvent, workflow_topic
from ..endpoint import Endpoint
from ..errors import bad_request, not_found
from ..event_log import start_after
from ..http import query
from ..models import StreamQuery
from ..sse import (
    TreeCursor,
    micros_of,
    parse_topic_cursor,
    parse_tree_cursor,
    tree_frames,
    with_keepalive,
)
from ..state import ServerState, server_state

LAST_EVENT_ID = "Last-Event-ID"
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def stream(request: Request) -> Response:
    state = server_state(request)
    q = query(request, StreamQuery)
    resume_from = request.headers.get(LAST_EVENT_ID)
    if q.workflow_run_id is not None or q.workflow_id is not None:
        if q.topic is not None:
            raise bad_request("pass either topic, or workflow_id with workflow_run_id; not both")
        if q.workflow_id is None or q.workflow_run_id is None:
            raise bad_request("workflow_id and workflow_run_id go together: pass both")
        tree = await _tree(state, q, q.workflow_id, q.workflow_run_id, resume_from)
        frames = with_keepalive(tree, state.settings.keepalive_seconds)
    elif q.topic is not None:
        frames = await _topic(state, q, q.topic, resume_from)
    else:
        raise bad_request("pass topic=..., or workflow_id=... and workflow_run_id=...")
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers=_HEADERS,
    )


async def _topic(
    state: ServerState, q: StreamQuery, topic: str, resume_from: str | None
) -> AsyncGenerator[bytes, None]:
    if resume_from is not None:
        after = parse_topic_cursor(resume_from)
    else:
        after = await start_after(state.store, topic, q.last_sequence_id, q.last_timestamp)
    return state.fanout.follow(topic, after, state.settings.keepalive_seconds)


async def _tree(
    state: ServerState, q: StreamQuery, workflow_id: str, run_id: str, resume_from: str | None
) -> AsyncGenerator[bytes, None]:
    row = await state.store.get_execution(run_id)
    if row is None:
        raise not_found("execution", f"no run with id {run_id!r} in this database")
    if workflow_id not in (row.workflow_id, row.root_workflow_id):
        raise bad_request(
            f"run {run_id} belongs to workflow {row.workflow_id!r}, not {workflow_id!r}; "
            "pass the run's workflow id (or its root's)"
        )
    topic = workflow_topic(row.root_workflow_id or row.workflow_id, row.root_execution_id or row.id)
    if resume_from is not None:
        cursor = parse_tree_cursor(resume_from)
    elif q.last_sequence_id is not None:
        cursor = TreeCursor(q.last_sequence_id)
    elif q.last_timestamp is not None:
        after = await start_after(state.store, topic, None, q.last_timestamp)
        cursor = TreeCursor(after, micros_of(q.last_timestamp), 0)
    else:
        cursor = TreeCursor(0)
    source: AsyncIterator[StreamEvent]
    if q.last_timestamp is not None and resume_from is None and q.last_sequence_id is None:
        source = events.stream_workflow(
            state.client, workflow_id, run_id, last_timestamp=q.last_timestamp
        )
    else:
        source = events.stream_workflow(
            state.client, workflow_id, run_id, last_sequence_id=cursor.seq
        )
    return tree_frames(source, cursor)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/events/stream",
        stream,
        "Follow a topic or a run tree as Server-Sent Events (resumable with Last-Event-ID)",
        "Events",
        query=StreamQuery,
        media_type="text/event-stream",
        errors=(400, 404, 422),
        headers=((LAST_EVENT_ID, "Resume after this event id (sent by EventSource)"),),
    ),
]
