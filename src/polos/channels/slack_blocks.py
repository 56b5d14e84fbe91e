"""The Slack messages a suspend and a run's output become (Block Kit), and what
the buttons carry back.

A suspend whose form is a yes/no approval (a boolean field ``approved``, as
tool approvals have) gets Approve and Reject buttons that answer it from
Slack, plus a link to the approval page; any other form gets a single link
to the page. Each button's ``value`` names the run and the step
(``{"executionId", "stepKey", "approved"}``), which is what the server's
``/slack/v1/interactions`` route reads when the button is clicked.
"""

from __future__ import annotations

import json
from typing import Any

from .channel import SuspendNotification

Block = dict[str, Any]

APPROVE_ACTION = "polos_approve"
REJECT_ACTION = "polos_reject"
#: Slack refuses a header longer than 150 characters and a text block longer than 3000.
_HEADER_MAX = 150
_TEXT_MAX = 2900


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def is_yes_no(notification: SuspendNotification) -> bool:
    """Whether the form can be answered by a button: it has a boolean ``approved`` field."""
    return any(
        isinstance(f, dict) and f.get("key") == "approved" and f.get("type") == "boolean"
        for f in notification.form_fields or []
    )


def button_value(notification: SuspendNotification, approved: bool) -> str:
    return json.dumps(
        {
            "executionId": notification.execution_id,
            "stepKey": notification.step_key,
            "approved": approved,
        }
    )


def suspend_blocks(n: SuspendNotification) -> list[Block]:
    """The message announcing ``n``: what waits, why, and how to answer."""
    title = n.title or "Agent needs your input"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, _HEADER_MAX)}}
    ]
    if n.description:
        blocks.append(_section(n.description))
    facts = [f"*Source:* {n.source}"] if n.source else []
    if n.tool:
        facts.append(f"*Tool:* `{n.tool}`")
    if facts:
        blocks.append(_context("  |  ".join(facts)))
    if n.context:
        blocks.append(_section(f"```{json.dumps(n.context, indent=2, default=str)}```"))
    if n.expires_at:
        blocks.append(_context(f"Expires: {n.expires_at}"))
    link = {"type": "button", "text": {"type": "plain_text", "text": "View Details"}}
    link["url"] = n.approval_url
    if is_yes_no(n):
        elements = [
            _button("Approve", APPROVE_ACTION, "primary", button_value(n, True)),
            _button("Reject", REJECT_ACTION, "danger", button_value(n, False)),
            link,
        ]
    else:
        elements = [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Respond"},
                "url": n.approval_url,
                "style": "primary",
            }
        ]
    blocks.append({"type": "actions", "elements": elements})
    return blocks


def answered_blocks(original: list[Any], status_text: str) -> list[Block]:
    """The message after an answer: as it was, its buttons replaced by who answered how."""
    kept = [b for b in original if isinstance(b, dict) and b.get("type") != "actions"]
    return [*kept, _context(status_text)]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _TEXT_MAX)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, _TEXT_MAX)}]}


def _button(label: str, action_id: str, style: str, value: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "value": value,
    }
