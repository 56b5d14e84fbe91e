"""Stored values as a person reads them: plain JSON text, never cut short."""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic_core import to_jsonable_python

from ... import serialization


def plain(text: str | None) -> Any:
    """A stored value (Polos's tagged JSON) as plain JSON values.

    Classes this process has not imported show as their fields (no module is
    ever imported because stored data names it).
    """
    if text is None:
        return None
    try:
        value = serialization.loads(text, strict=False)
    except Exception:  # a value written by a newer Polos: show what is stored
        return text
    return to_jsonable_python(value, fallback=str)


def error_of(text: str | None) -> Any:
    """A stored error record (JSON) as plain values."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def pretty(value: Any) -> str:
    """``value`` as indented JSON (text as it is)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def short(value: Any, limit: int = 80) -> str:
    """A one-line preview for summaries; the full value is always shown beside it."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
