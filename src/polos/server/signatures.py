"""Webhook signatures: HMAC-SHA256 of the raw body, in hex, as GitHub and most services send.

A signed request carries ``X-Polos-Signature-256: sha256=<hex digest>``
(GitHub's ``X-Hub-Signature-256`` is read too), where the digest is
``HMAC-SHA256(secret, raw request body)``.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADERS = ("X-Polos-Signature-256", "X-Hub-Signature-256")
_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value for ``body`` signed with ``secret``."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> str | None:
    """None when ``header`` signs ``body`` with ``secret``, else what is wrong."""
    if not header:
        return (
            f"this webhook must be signed: send {SIGNATURE_HEADERS[0]}: sha256=<hex "
            "HMAC-SHA256 of the raw body with the workflow's webhook secret>"
        )
    value = header.strip()
    if not value.startswith(_PREFIX):
        return f"the signature must read sha256=<hex digest>, not {value[:20]!r}"
    if not hmac.compare_digest(sign(secret, body), value.lower()):
        return "the signature does not match the body; check the secret and sign the raw body"
    return None
