"""API keys at the door: ``Authorization: Bearer <key>`` checked on every request.

- A database with no key at all (none ever created): requests need none, and
  the server starts only on a loopback address (127.0.0.1, ::1, localhost).
- Once any key exists (a revoked one counts), every request needs a valid,
  unrevoked key of this server's project, loopback included; anything else
  is a 401 saying what was wrong.
- Not behind a key: ``/health`` and ``/openapi.json`` (they show nothing of
  any project), the approval pages ``/approve/...`` (opened from a link in a
  browser, which sends no header: the unguessable run id in the URL is the
  capability, as with any emailed link), a webhook whose workflow has a
  signing secret (its HMAC signature authenticates it), and Slack's callbacks
  under ``/slack/`` (Slack's signature authenticates them).
- The dashboard's pages: a browser sends no header, so a person signs in once
  at ``/login`` with a key, kept in an HttpOnly, SameSite=Strict cookie that
  stands for the header (a page asked for without a key redirects there).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ConfigurationError
from ..store import Store
from ..store.api_keys import hash_key
from .settings import ServerSettings

DEFAULT_PROJECT = "default"
#: The cookie a person signed in to the dashboard with (the API key itself).
KEY_COOKIE = "polos_api_key"
LOGIN_PATH = "/login"
_OPEN_PATHS = frozenset({"/health", "/openapi.json", LOGIN_PATH})
_OPEN_PREFIXES = ("/approve/", "/slack/", "/ui/static/")
_WEBHOOKS = "/api/v1/webhooks/"


def project_of(settings: ServerSettings) -> str:
    return settings.project_id or DEFAULT_PROJECT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def key_refusal(store: Store, settings: ServerSettings, token: str) -> str | None:
    """Why ``token`` is not a valid key of this server's project, or None when it is."""
    row = await store.find_api_key(hash_key(token))
    if row is None:
        return "this API key is not valid on this server (unknown key)"
    if row.revoked_at is not None:
        return f"this API key ({row.key_id}) was revoked; create a new one"
    if row.project_id != project_of(settings):
        return "this API key is not valid on this server (another project's key)"
    return None


def _cookie_key(headers: Headers) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == KEY_COOKIE and value:
            return value
    return None


def _wants_page(scope: Scope, headers: Headers) -> bool:
    """A person's browser asking for a dashboard page (not a program calling the API)."""
    path: str = scope.get("path", "")
    return (
        scope.get("method") == "GET"
        and not path.startswith("/api/")
        and "text/html" in headers.get("accept", "")
    )


async def check_can_serve(store: Store, settings: ServerSettings) -> None:
    """Refuse to serve on a non-loopback address while no API key exists."""
    if is_loopback(settings.host) or await store.has_api_keys():
        return
    raise ConfigurationError(
        f"refusing to listen on {settings.host} without API keys: anyone who reaches this "
        "address could start, read and cancel runs. Create a key first "
        "(polos keys create --database-url ...) and send it as Authorization: Bearer <key>, "
        "or listen on 127.0.0.1"
    )


class KeyCheck:
    """ASGI middleware: 401 for a request without a valid key, once keys exist."""

    def __init__(self, app: ASGIApp, store: Any, settings: ServerSettings) -> None:
        self.app = app
        self._store = store  # a callable giving the opened store
        self.settings = settings
        self._keys_exist = False  # once true, true for good (keys are never deleted)

    async def _need_keys(self, store: Store) -> bool:
        if not self._keys_exist:
            self._keys_exist = await store.has_api_keys()
        return self._keys_exist

    def _open(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            return True
        if path.startswith(_WEBHOOKS) and scope.get("method") == "POST":
            workflow_id = path[len(_WEBHOOKS) :]
            return "/" not in workflow_id and self.settings.webhook_secret(workflow_id) is not None
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._open(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        if authorization is None and (cookie := _cookie_key(headers)) is not None:
            authorization = f"Bearer {cookie}"  # signed in to the dashboard
        refusal = await self._refusal(authorization)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        if _wants_page(scope, headers):
            target = scope.get("path", "/")
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location.encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        body = orjson.dumps({"error": refusal, "error_type": "UNAUTHORIZED"})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="polos"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _refusal(self, authorization: str | None) -> str | None:
        """Why the request is refused, or None to let it through."""
        store: Store = self._store()
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if authorization and (scheme.lower() != "bearer" or not token):
            if not await self._need_keys(store):
                return None
            return "the Authorization header must read 'Bearer <API key>'"
        if not token:
            if not await self._need_keys(store):
                return None
            return (
                "this server requires an API key: send 'Authorization: Bearer <key>' "
                "(create one with: polos keys create)"
            )
        refusal = await key_refusal(store, self.settings, token)
        if refusal is not None and not await self._need_keys(store):
            return None  # no keys at all: a key sent anyway is not checked
        if refusal is None:
            self._keys_exist = True
        return refusal
