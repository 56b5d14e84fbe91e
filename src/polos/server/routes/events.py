"""Publishing events and reading a topic's log (the live stream is in ``stream``)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from ...types import EventData
from ..endpoint import Endpoint
from ..errors import client_errors
from ..event_log import event_out, start_after
from ..http import body, json_response, query
from ..models import EventsQuery, EventsResponse, PublishRequest, PublishResponse
from ..state import server_state


async def publish(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, PublishRequest, state.settings.max_body_bytes)
    events = [EventData(event_type=e.event_type, data=e.data) for e in req.events]
    with client_errors(arguments=True):
        published = await state.client.batch_publish(req.topic, events)
    return json_response(
        PublishResponse(
            sequence_ids=[e.sequence_id for e in published],
            event_ids=[e.id for e in published],
            created_at=published[0].created_at if published else datetime.now(UTC),
        )
    )


async def read(request: Request) -> Response:
    state = server_state(request)
    q = query(request, EventsQuery)
    after = await start_after(state.store, q.topic, q.last_sequence_id, q.last_timestamp)
    rows = await state.store.read_events(q.topic, after, q.limit + 1)
    page = rows[: q.limit]
    return json_response(
        EventsResponse(
            events=[event_out(r) for r in page],
            next_sequence_id=page[-1].seq if page else None,
            has_more=len(rows) > q.limit,
        )
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/events/publish",
        publish,
        "Publish events to a topic (one transaction); waiting runs see them at once",
        "Events",
        body=PublishRequest,
        response=PublishResponse,
        errors=(400, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/events",
        read,
        "A page of a topic's events, oldest first",
        "Events",
        query=EventsQuery,
        response=EventsResponse,
        errors=(422,),
    ),
]
