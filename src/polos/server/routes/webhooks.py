"""``POST /api/v1/webhooks/{workflow_id}``: start a run from any service's JSON body.

The body (any JSON) is the run's payload. When the server has a webhook
secret for the workflow (or a ``*`` secret), the request must be signed (see
:mod:`polos.server.signatures`); unsigned or wrongly signed requests get 401
and start nothing. An ``Idempotency-Key`` header makes a retried delivery
return the first run instead of starting another.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...types import BatchWorkflowInput
from ..endpoint import Endpoint
from ..errors import ApiError
from ..http import json_response, parse_json, path_text, read_body
from ..models import WebhookResponse
from ..signatures import SIGNATURE_HEADERS, verify
from ..state import server_state
from .runs import IDEMPOTENCY_HEADER, run_response, start_runs


async def webhook(request: Request) -> Response:
    state = server_state(request)
    workflow_id = path_text(request, "workflow_id")
    raw = await read_body(request, state.settings.max_body_bytes)
    secret = state.settings.webhook_secret(workflow_id)
    if secret is not None:
        header = next((request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers), None)
        problem = verify(secret, raw, header)
        if problem is not None:
            raise ApiError(401, "BAD_SIGNATURE", problem)
    payload = parse_json(raw, empty=None)
    item = BatchWorkflowInput(
        id=workflow_id,
        payload=payload,
        idempotency_key=request.headers.get(IDEMPOTENCY_HEADER) or None,
    )
    [handle] = await start_runs(state, [item])
    response = run_response(handle)
    return json_response(WebhookResponse(**response.model_dump()), 202)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/webhooks/{workflow_id}",
        webhook,
        "Start a run of a workflow with the request's JSON body as its payload",
        "Webhooks",
        response=WebhookResponse,
        status=202,
        errors=(400, 401, 404, 413, 422),
        headers=(
            (SIGNATURE_HEADERS[0], "sha256=<hex HMAC-SHA256 of the body>, when a secret is set"),
            (IDEMPOTENCY_HEADER, "A retried delivery with the same key starts no second run"),
        ),
        raw_body="application/json",
    ),
]
