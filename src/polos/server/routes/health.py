"""``GET /health``: the server is up and its database answers."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ...errors import StoreError
from ..endpoint import Endpoint
from ..http import json_response
from ..models import HealthResponse
from ..state import server_state

log = logging.getLogger("polos.server")


async def health(request: Request) -> Response:
    try:
        await server_state(request).store.next_timer_at()
    except StoreError as exc:
        log.warning("health check: the database does not answer: %s", exc)
        return json_response({"status": "unhealthy", "error": str(exc)}, 503)
    return json_response(HealthResponse(status="healthy"))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/health",
        health,
        "Whether the server is up and its database answers",
        "Health",
        response=HealthResponse,
        errors=(503,),
    ),
]
