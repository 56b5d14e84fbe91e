"""API keys of a ``polos server``: what is stored (a hash, never the key) and how keys look.

A key reads ``polos_<key id>_<secret>``; the store keeps its SHA-256 (a key
has 256 random bits, so a fast hash is safe) and finds it by that hash. A
revoked key stays in the table (``revoked_at`` set), so that once a
database has had a key, a server on it never again runs without one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "polos_"


@dataclass(slots=True)
class ApiKeyRow:
    key_id: str
    project_id: str
    name: str
    key_hash: str
    created_at: float
    revoked_at: float | None = None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(project_id: str, name: str, now: float) -> tuple[str, ApiKeyRow]:
    """A fresh key (shown once) and the row that stores its hash."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return key, ApiKeyRow(key_id, project_id, name, hash_key(key), now)
