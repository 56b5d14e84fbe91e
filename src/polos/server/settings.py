"""What a server is told: its database, address, public URL, webhook secrets, limits."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..engine.run import DEFAULT_MAX_PAYLOAD_BYTES
from ..errors import ConfigurationError

#: Polos's default address, and so where approval links point unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Webhook secrets as JSON: ``{"<workflow id>": "<secret>", "*": "<secret for the others>"}``.
WEBHOOK_SECRETS_ENV = "POLOS_WEBHOOK_SECRETS"
APPROVAL_BASE_URL_ENV = "POLOS_APPROVAL_BASE_URL"
#: The Slack app's signing secret (the name Polos's orchestrator reads too).
SLACK_SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"


@dataclass
class ServerSettings:
    #: The database the workers use (default: ``POLOS_DATABASE_URL``, else ``./.polos/polos.db``).
    database_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Where people reach this server (behind a proxy: the proxy's URL). Default:
    #: ``POLOS_APPROVAL_BASE_URL``, else ``http://<host>:<port>``.
    public_url: str | None = None
    #: Workflow id -> HMAC-SHA256 secret its webhook must be signed with; ``"*"``
    #: applies to every workflow without one of its own.
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)
    #: The largest request body accepted (413 beyond it): twice the payload limit,
    #: so a payload at the limit still fits with its JSON envelope.
    max_body_bytes: int = 2 * DEFAULT_MAX_PAYLOAD_BYTES
    #: Seconds between keepalive comments on an idle event stream.
    keepalive_seconds: float = 15.0
    #: Seconds uvicorn waits for open requests (event streams) when stopping.
    shutdown_grace_seconds: float = 3.0
    #: The project served (its own SQLite file or PostgreSQL schema, as for
    #: ``PolosClient(project_id=...)``); API keys must belong to it. Default:
    #: ``POLOS_PROJECT_ID``, else none (keys of project ``default``).
    project_id: str | None = None
    #: Checks Slack's button clicks (``/slack/v1/interactions``). Default:
    #: ``SLACK_SIGNING_SECRET``; without one the route refuses every request.
    slack_signing_secret: str | None = None

    @property
    def base_url(self) -> str:
        """The public URL, without a trailing slash."""
        configured = self.public_url or os.environ.get(APPROVAL_BASE_URL_ENV)
        if configured:
            return configured.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def slack_secret(self) -> str | None:
        return self.slack_signing_secret or os.environ.get(SLACK_SIGNING_SECRET_ENV) or None

    def webhook_secret(self, workflow_id: str) -> str | None:
        return self.webhook_secrets.get(workflow_id) or self.webhook_secrets.get("*")


def webhook_secrets_from_env() -> dict[str, str]:
    """``POLOS_WEBHOOK_SECRETS`` read as a JSON object of workflow id -> secret."""
    raw = os.environ.get(WEBHOOK_SECRETS_ENV, "").strip()
    return parse_webhook_secrets(raw, WEBHOOK_SECRETS_ENV) if raw else {}


def parse_webhook_secrets(raw: str, source: str) -> dict[str, str]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{source} is not valid JSON ({exc.msg}); write it as "
            '{"<workflow id>": "<secret>", "*": "<secret for the others>"}'
        ) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ConfigurationError(
            f"{source} must be a JSON object of workflow id -> non-empty secret string"
        )
    return dict(value)


def parse_webhook_option(items: list[str]) -> dict[str, str]:
    """``--webhook-secret WORKFLOW=SECRET`` options as a mapping."""
    out: dict[str, str] = {}
    for item in items:
        workflow_id, sep, secret = item.partition("=")
        if not sep or not workflow_id or not secret:
            raise ConfigurationError(
                f"--webhook-secret {item!r}: write WORKFLOW_ID=SECRET (or *=SECRET for all)"
            )
        out[workflow_id] = secret
    return out
