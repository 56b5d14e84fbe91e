"""A fake Slack: the Web API methods a channel calls, and the button clicks Slack sends back.

Point :class:`polos.SlackChannel` at ``server.api_url`` (``POLOS_SLACK_API_URL``).
It checks the bot token, records every message (``server.messages``), keeps
what ``response_url`` replacements did to them, and plays the user's side:
:meth:`FakeSlackServer.click` POSTs the interaction payload Slack would send
for a button of a recorded message to your server, form-encoded and signed
with the signing secret (``X-Slack-Signature: v0=<hex HMAC-SHA256 of
"v0:<timestamp>:<body>">``), as Slack does.

    with FakeSlackServer() as slack:
        channel = SlackChannel(SlackChannelConfig("xoxb-test", "#ops", api_url=slack.api_url))
        ...
        response = await slack.click(server_url, slack.messages[0], "polos_approve", secret)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ._server import FakeServer

INTERACTIONS_PATH = "/slack/v1/interactions"


@dataclass
class SlackMessage:
    """A message the fake Slack holds, as last posted or replaced."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    #: Each ``response_url`` body received for this message, in order.
    responses: list[dict[str, Any]] = field(default_factory=list)

    def buttons(self) -> list[dict[str, Any]]:
        return [
            element
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if element.get("type") == "button"
        ]

    def button(self, action_id_or_label: str) -> dict[str, Any]:
        for button in self.buttons():
            label = button.get("text", {}).get("text")
            if action_id_or_label in (button.get("action_id"), label):
                return button
        raise LookupError(f"message {self.ts} has no button {action_id_or_label!r}")


class FakeSlackServer(FakeServer):
    """Serves ``/api/chat.postMessage``, ``/api/chat.update`` and ``response_url``s."""

    server_name = "FakeSlackServer"

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        channels: Sequence[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """``bot_token``: the one token accepted (None: any ``xoxb-`` token);
        ``channels``: the channels that exist (None: any)."""
        super().__init__((), host=host)
        self.bot_token = bot_token
        self.channels = set(channels) if channels is not None else None
        self.messages: list[SlackMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """Every Web API call (method, body), failed ones included."""
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._rate_limited = 0
        self._retry_after = 1

    def rate_limit(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` Web API calls 429 ``ratelimited`` with ``Retry-After``."""
        with self._lock:
            self._rate_limited, self._retry_after = times, retry_after

    @property
    def api_url(self) -> str:
        """What ``POLOS_SLACK_API_URL`` should be (Slack's is ``https://slack.com/api``)."""
        return f"{self.url}/api"

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/api/{method}", self._api, methods=["POST"]),
            Route("/response/{ts}", self._response_url, methods=["POST"]),
        ]

    def error_response(self, status: int, message: str, headers: Mapping[str, str]) -> Response:
        return JSONResponse({"ok": False, "error": message}, status, dict(headers))

    def in_channel(self, channel: str) -> list[SlackMessage]:
        return [m for m in self.messages if m.channel == channel]

    def message(self, ts: str) -> SlackMessage:
        for m in self.messages:
            if m.ts == ts:
                return m
        raise LookupError(f"no message {ts}")

    # -- the Web API ----------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self.error_response(200, "invalid_json", {})
        else:
            body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        body = body if isinstance(body, dict) else {}
        self.calls.append((method, body))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self.error_response(200, "not_authed", {})
        if not token.startswith("xoxb-") or (self.bot_token and token != self.bot_token):
            return self.error_response(200, "invalid_auth", {})
        with self._lock:
            limited = self._rate_limited > 0
            self._rate_limited -= 1 if limited else 0
        if limited:
            return self.error_response(429, "ratelimited", {"Retry-After": str(self._retry_after)})
        if method == "chat.postMessage":
            return self._post(body)
        if method == "chat.update":
            return self._update(body)
        return self.error_response(200, "unknown_method", {})

    def _post(self, body: dict[str, Any]) -> Response:
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return self.error_response(200, "channel_not_found", {})
        if self.channels is not None and channel not in self.channels:
            return self.error_response(200, "channel_not_found", {})
        if not body.get("text") and not body.get("blocks"):
            return self.error_response(200, "no_text", {})
        blocks = body.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        with self._lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = SlackMessage(
                channel, ts, str(body.get("text") or ""), list(blocks), body.get("thread_ts")
            )
            self.messages.append(message)
        return JSONResponse(
            {"ok": True, "channel": channel, "ts": ts, "message": {"text": message.text}}
        )

    def _update(self, body: dict[str, Any]) -> Response:
        try:
            message = self.message(str(body.get("ts")))
        except LookupError:
            return self.error_response(200, "message_not_found", {})
        message.text = str(body.get("text") or message.text)
        if "blocks" in body:
            message.blocks = list(body["blocks"] or [])
        return JSONResponse({"ok": True, "channel": message.channel, "ts": message.ts})

    async def _response_url(self, request: Request) -> Response:
        try:
            message = self.message(request.path_params["ts"])
            body = json.loads(await request.body())
        except (LookupError, ValueError):
            return PlainTextResponse("invalid_response_url", 404)
        message.responses.append(body)
        if str(body.get("replace_original")).lower() == "true":
            message.text = str(body.get("text") or "")
            message.blocks = list(body.get("blocks") or [])
        return PlainTextResponse("ok")

    # -- the user's side: a button click --------------------------------------

    def response_url(self, message: SlackMessage) -> str:
        return f"{self.url}/response/{message.ts}"

    def interaction(
        self, message: SlackMessage, button: str, *, user: str = "alice"
    ) -> dict[str, Any]:
        """The ``block_actions`` payload Slack sends when ``user`` clicks ``button``."""
        clicked = message.button(button)
        action = {
            "type": "button",
            "action_id": clicked.get("action_id", "link"),
            "block_id": "actions",
            "text": clicked.get("text"),
            "action_ts": f"{time.time():.6f}",
        }
        if "value" in clicked:
            action["value"] = clicked["value"]
        return {
            "type": "block_actions",
            "user": {"id": f"U{user.upper()}", "username": user, "name": user},
            "channel": {"id": message.channel},
            "container": {"type": "message", "message_ts": message.ts},
            "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": self.response_url(message),
            "actions": [action],
        }

    async def click(
        self,
        server_url: str,
        message: SlackMessage,
        button: str,
        signing_secret: str,
        *,
        user: str = "alice",
        timestamp: int | None = None,
        path: str = INTERACTIONS_PATH,
    ) -> httpx.Response:
        """POST the click's interaction to ``server_url`` as Slack does: form-encoded, signed."""
        payload = self.interaction(message, button, user=user)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                server_url.rstrip("/") + path,
                content=body,
                headers=signed_headers(signing_secret, body, timestamp),
            )


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with (``X-Slack-Signature`` v0)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
