"""``POST /slack/v1/interactions``: Slack's button clicks answer approvals.

Set the Slack app's Interactivity "Request URL" to
``https://<this server>/slack/v1/interactions`` and give the server the app's
signing secret (``SLACK_SIGNING_SECRET``). A click on the Approve or Reject
button of a :class:`polos.SlackChannel` message arrives here form-encoded
(``payload=<JSON>``), signed; it answers the suspend with
``{"approved": true|false}`` through the same submission as the approval page,
so the run resumes exactly once, however many people click. The message is
then replaced (through the click's ``response_url``) by itself without its
buttons, plus who answered how; a late click is refused with 409 and its
clicker is told, in the thread, that the request was already handled.

Not behind an API key (Slack sends none): the signature authenticates.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ...channels.slack_blocks import APPROVE_ACTION, REJECT_ACTION, answered_blocks
from ..approvals.submit import submit
from ..endpoint import Endpoint
from ..errors import ApiError, bad_request
from ..http import json_response, read_body, storable_text
from ..slack_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_slack_request
from ..state import server_state

log = logging.getLogger("polos.server.slack")
_FORM_TYPE = "application/x-www-form-urlencoded"
#: Seconds the message update may take: Slack wants its answer within 3 s.
_UPDATE_TIMEOUT = 2.0


class SlackInteractionResponse(BaseModel):
    ok: bool = Field(description="Whether the click was taken")
    handled: bool = Field(description="Whether it answered an approval (other clicks are ignored)")
    execution_id: str | None = None
    step_key: str | None = None
    approved: bool | None = None


class _ButtonValue(BaseModel):
    """What a SlackChannel button carries (see :mod:`polos.channels.slack_blocks`)."""

    executionId: str = Field(min_length=1)
    stepKey: str = Field(min_length=1)
    approved: bool


async def slack_interaction(request: Request) -> Response:
    state = server_state(request)
    secret = state.settings.slack_secret
    if not secret:
        raise ApiError(
            403,
            "SLACK_NOT_CONFIGURED",
            "Slack interactions are off on this server: start it with SLACK_SIGNING_SECRET "
            "set to the Slack app's signing secret (Basic Information page)",
        )
    raw = await read_body(request, state.settings.max_body_bytes)
    problem = check_slack_request(
        secret, raw, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER)
    )
    if problem is not None:
        raise ApiError(401, "BAD_SIGNATURE", problem)
    payload = _payload(raw)
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, dict) or action.get("action_id") not in (
        APPROVE_ACTION,
        REJECT_ACTION,
    ):
        # A link button ("View Details") or another app's action: nothing to do.
        return json_response(SlackInteractionResponse(ok=True, handled=False))
    value = _button_value(action.get("value"))
    response_url = payload.get("response_url")
    response_url = response_url if isinstance(response_url, str) else None
    user = _user_name(payload.get("user"))
    try:
        await submit(state, value.executionId, value.stepKey, {"approved": value.approved})
    except ApiError as exc:
        if exc.status == 409 and response_url:
            await _tell(
                response_url,
                {
                    "response_type": "ephemeral",
                    "replace_original": False,
                    "text": f"This request was already handled: {exc.message}",
                },
            )
        raise
    status = f"\u2705 Approved by @{user}" if value.approved else f"\u274c Rejected by @{user}"
    if response_url:
        message = payload.get("message")
        original = message.get("blocks") if isinstance(message, dict) else None
        await _tell(
            response_url,
            {
                "replace_original": True,
                "text": status,
                "blocks": answered_blocks(original if isinstance(original, list) else [], status),
            },
        )
    return json_response(
        SlackInteractionResponse(
            ok=True,
            handled=True,
            execution_id=value.executionId,
            step_key=value.stepKey,
            approved=value.approved,
        )
    )


def _payload(raw: bytes) -> dict[str, Any]:
    """The form's ``payload`` field, parsed as the JSON object it must be."""
    try:
        form = parse_qs(raw.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8 form data; Slack sends payload=<JSON>") from None
    fields = form.get("payload")
    if not fields:
        raise bad_request(
            f"no payload field in the body: Slack sends {_FORM_TYPE} with payload=<JSON>"
        )
    try:
        payload = orjson.loads(fields[-1])
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the payload field is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise bad_request("the payload field must be a JSON object")
    return payload


def _button_value(raw: Any) -> _ButtonValue:
    if not isinstance(raw, str):
        raise bad_request("the Approve/Reject action carries no value naming the run and step")
    try:
        value = _ButtonValue.model_validate_json(raw)
        storable_text(value.executionId)
        storable_text(value.stepKey)
    except (ValidationError, ValueError) as exc:
        raise bad_request(
            'the button value must be {"executionId", "stepKey", "approved"} as a '
            f"SlackChannel message sets it: {exc}"
        ) from None
    return value


def _user_name(user: Any) -> str:
    if isinstance(user, dict):
        for key in ("username", "name", "id"):
            if isinstance(user.get(key), str) and user[key]:
                return str(user[key])
    return "unknown"


async def _tell(response_url: str, body: dict[str, Any]) -> None:
    """Post to the click's ``response_url``; a failure is logged (the answer stands)."""
    if not response_url.startswith(("https://", "http://")):
        log.warning(
            "Slack response_url %r is not an http(s) URL; message not updated", response_url
        )
        return
    try:
        async with httpx.AsyncClient(timeout=_UPDATE_TIMEOUT) as http:
            answer = await http.post(response_url, json=body)
        if answer.status_code >= 300:
            log.warning("Slack response_url answered %s: %s", answer.status_code, answer.text[:200])
    except httpx.HTTPError as exc:
        log.warning("could not update the Slack message at its response_url: %s", exc)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/slack/v1/interactions",
        slack_interaction,
        "Slack's interaction callback: an Approve/Reject click answers the approval (once)",
        "Slack",
        response=SlackInteractionResponse,
        errors=(400, 401, 403, 404, 409, 413),
        headers=(
            (SIGNATURE_HEADER, "v0=<hex HMAC-SHA256 of 'v0:<timestamp>:<body>'>, as Slack signs"),
            (TIMESTAMP_HEADER, "Unix seconds when Slack sent the request (within 5 minutes)"),
        ),
        raw_body=_FORM_TYPE,
    ),
]
