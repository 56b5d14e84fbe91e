"""Slack's request signatures: is this request really from Slack, and fresh?

Slack signs each request it sends with the app's signing secret:
``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">``,
``X-Slack-Request-Timestamp: <unix seconds>``. A request older (or newer)
than five minutes is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
#: How far a request's timestamp may be from now, in seconds (Slack's own advice).
MAX_AGE_SECONDS = 300


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def check_slack_request(
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float | None = None,
) -> str | None:
    """None when the request is signed by ``secret`` and fresh, else what is wrong."""
    if not timestamp or not signature:
        missing = TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER
        return f"not a signed Slack request: the {missing} header is missing"
    try:
        sent = int(timestamp.strip())
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds, not {timestamp[:20]!r}"
    current = time.time() if now is None else now
    if abs(current - sent) > MAX_AGE_SECONDS:
        return (
            f"{TIMESTAMP_HEADER} is {int(abs(current - sent))}s away from the server's clock "
            f"(more than {MAX_AGE_SECONDS}s): a stale or replayed request, or a wrong clock"
        )
    expected = slack_signature(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        return (
            f"{SIGNATURE_HEADER} does not match the body: check that the server's "
            "SLACK_SIGNING_SECRET is the Slack app's signing secret (Basic Information page)"
        )
    return None
