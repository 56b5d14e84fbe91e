"""``SlackChannel``: tell a Slack channel when a run waits for a person.

Through Slack's Web API (``chat.postMessage``) over httpx, with the bot
token of a Slack app (``xoxb-...``, scope ``chat:write``). A tool approval
arrives with Approve / Reject buttons that answer it from Slack (the click
reaches the server's ``/slack/v1/interactions`` route); any other suspend
with a link to its approval page. A run's output can be followed into a
thread (:meth:`SlackChannel.stream_to_thread`).

The API's address is ``SlackChannelConfig(api_url=...)``, else
``POLOS_SLACK_API_URL``, else ``https://slack.com/api``: tests point it at
:class:`polos.testing.FakeSlackServer`.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import PolosError
from .channel import Channel, ChannelContext, ChannelOutputMode, SuspendNotification
from .output import forward_output
from .slack_blocks import Block, suspend_blocks

__all__ = ["SlackApiError", "SlackChannel", "SlackChannelConfig"]

DEFAULT_SLACK_API_URL = "https://slack.com/api"
SLACK_API_URL_ENV = "POLOS_SLACK_API_URL"
#: Calls tried when Slack answers 429, and the longest Retry-After honoured (seconds).
_RATE_LIMIT_TRIES = 3
_MAX_RETRY_AFTER = 10.0


class SlackApiError(PolosError):
    """Slack refused a call (``ok: false``) or could not be reached."""


@dataclass
class SlackChannelConfig:
    """Where and as whom to post."""

    #: The Slack app's Bot User OAuth Token (``xoxb-...``).
    bot_token: str
    #: The channel posted to unless a suspend's ``_notify.slack.channel`` names
    #: another; a channel id (``C0123456789``) survives renames, a ``#name`` works too.
    default_channel: str
    #: Slack's signing secret, for the server that receives button clicks
    #: (the server reads ``SLACK_SIGNING_SECRET``; this field is kept for Polos code).
    signing_secret: str | None = None
    #: Default ``POLOS_SLACK_API_URL``, else ``https://slack.com/api``.
    api_url: str | None = None
    #: Seconds a call to Slack may take.
    timeout: float = 10.0


class SlackChannel(Channel):
    """Posts a Block Kit message to Slack for every suspend (``Polos(channels=[...])``)."""

    def __init__(self, config: SlackChannelConfig) -> None:
        if not isinstance(config.bot_token, str) or not config.bot_token.startswith("xoxb-"):
            raise ValueError(
                "SlackChannelConfig.bot_token must be a bot token starting with 'xoxb-': copy "
                "the Bot User OAuth Token from your Slack app's OAuth & Permissions page"
            )
        if not config.default_channel:
            raise ValueError(
                "SlackChannelConfig.default_channel is empty: name the channel to post to "
                "(a channel id such as C0123456789, or #name)"
            )
        self.config = config

    @property
    def id(self) -> str:
        return "slack"

    @property
    def output_mode(self) -> ChannelOutputMode:
        return "per_step"

    @property
    def api_url(self) -> str:
        configured = self.config.api_url or os.environ.get(SLACK_API_URL_ENV)
        return (configured or DEFAULT_SLACK_API_URL).rstrip("/")

    async def notify(self, notification: SuspendNotification) -> dict[str, Any] | None:
        """Post the suspend's message; returns where it went (channel, ``ts``, blocks)."""
        where = _route(notification)
        channel = where.get("channel") or self.config.default_channel
        thread = where.get("thread_ts") or where.get("threadTs")
        blocks = suspend_blocks(notification)
        posted = await self.post_message(
            channel, notification.title or "Agent needs your input", blocks, thread_ts=thread
        )
        return {
            "slack_channel": posted.get("channel") or channel,
            "slack_message_ts": posted.get("ts", ""),
            "slack_blocks": blocks,
        }

    async def send_output(self, context: ChannelContext, event: Any) -> None:
        """Post one output event of a run (see :func:`format_output`) to the context's thread."""
        channel = context.source.get("channel")
        if not channel:
            return
        text = format_output(event)
        if text:
            thread = context.source.get("thread_ts") or context.source.get("threadTs")
            await self.post_message(str(channel), text, thread_ts=thread)

    async def stream_to_thread(
        self,
        client: Any,
        handle: Any,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
        mode: ChannelOutputMode | None = None,
    ) -> int:
        """Follow the run of ``handle`` into a Slack thread until it ends.

        Without ``thread_ts`` a first message naming the run starts the
        thread. Tool calls, failed steps and the final result are posted
        (``mode="final"``: only the result). Returns how many events were
        forwarded.
        """
        target = channel or self.config.default_channel
        if thread_ts is None:
            first = await self.post_message(
                target, f"\u25b6\ufe0f *{handle.root_workflow_id}* started (run `{handle.id}`)"
            )
            thread_ts = str(first.get("ts") or "") or None
            target = str(first.get("channel") or target)
        context = ChannelContext(
            channel_id=self.id, source={"channel": target, "thread_ts": thread_ts}
        )
        return await forward_output(
            client, self, context, handle.root_workflow_id, handle.id, mode or self.output_mode
        )

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """``chat.postMessage``; Slack's answer (with ``channel`` and ``ts``)."""
        body: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            body["blocks"] = blocks
        if thread_ts:
            body["thread_ts"] = thread_ts
        return await self.call("chat.postMessage", body)

    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """One Web API method; raises :class:`SlackApiError` saying what Slack refused."""
        url = f"{self.api_url}/{method}"
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout) as http:
                for attempt in range(_RATE_LIMIT_TRIES):
                    response = await http.post(
                        url,
                        json=body,
                        headers={"Authorization": f"Bearer {self.config.bot_token}"},
                    )
                    wait = _retry_after(response)
                    if wait is None or attempt == _RATE_LIMIT_TRIES - 1:
                        break
                    # Slack allows about one message a second per channel: wait as told.
                    await asyncio.sleep(wait)
        except httpx.HTTPError as exc:
            raise SlackApiError(
                f"Slack {method} failed: could not reach {url} ({type(exc).__name__}: {exc}); "
                f"check the network or {SLACK_API_URL_ENV}"
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SlackApiError(
                f"Slack {method} answered HTTP {response.status_code} without JSON: "
                f"{response.text[:200]!r}"
            )
        if not data.get("ok"):
            error = data.get("error", f"HTTP {response.status_code}")
            raise SlackApiError(f"Slack {method} refused: {error}{_hint(str(error))}")
        return data


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before trying again when Slack rate-limits (429), else None."""
    if response.status_code != 429:
        return None
    try:
        told = float(response.headers.get("retry-after", "1"))
    except ValueError:
        told = 1.0
    return min(max(told, 0.0), _MAX_RETRY_AFTER)


def _route(notification: SuspendNotification) -> dict[str, Any]:
    """Where a suspend's message goes: the thread it came from, then its ``_notify`` overrides.

    Overrides may be Slack's own (``{"channel", "thread_ts"}``) or the whole
    ``_notify`` of the suspend, whose ``"slack"`` entry is then used.
    """
    out: dict[str, Any] = {}
    origin = notification.channel_context
    if origin is not None and origin.channel_id == "slack":
        out.update(origin.source)
    overrides = notification.channel_overrides or {}
    slack = overrides.get("slack")
    out.update(slack if isinstance(slack, dict) else overrides)
    return out


_HINTS = {
    "channel_not_found": " (is the channel name right, and is the bot invited to it?)",
    "not_in_channel": " (invite the bot to the channel: /invite @your-bot)",
    "invalid_auth": " (check the bot token)",
    "not_authed": " (check the bot token)",
    "missing_scope": " (add the chat:write scope to the Slack app and reinstall it)",
    "ratelimited": " (Slack's rate limit: slow down)",
}


def _hint(error: str) -> str:
    return _HINTS.get(error, "")


def format_output(event: Any) -> str | None:
    """The Slack text for one stream event of a run, or None for events not shown
    (text deltas, successful steps)."""
    kind = getattr(event, "event_type", None)
    data = getattr(event, "data", None)
    data = data if isinstance(data, dict) else {}
    if kind in ("workflow_finish", "agent_finish"):
        meta = data.get("_metadata") or {}
        label = meta.get("workflow_id") or "Workflow"
        if data.get("error"):
            return f"\u274c *{label} failed:* {data['error']}"
        result = data.get("result")
        if isinstance(result, dict) and "result" in result:
            result = result["result"]
        if result is None:
            return f"\u2705 *{label} finished*"
        return result if isinstance(result, str) else json.dumps(result, indent=2, default=str)
    if kind == "tool_call":
        call = data.get("tool_call")
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        return f"\U0001f527 Calling tool: `{name}`" if name else None
    if kind == "step_finish" and data.get("error"):
        return f"\u26a0\ufe0f Step `{data.get('step_key') or 'unknown'}` failed: {data['error']}"
    return None
