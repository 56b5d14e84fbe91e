"""The approval form: read from a suspend's ``_form``, and what a person posted, typed.

A suspend's data may carry Polos's ``_form``: ``title``, ``description``,
``fields`` and ``context`` (shown read-only). Each field has a ``key`` (or
``name``), a ``type`` (``text``, ``textarea``, ``number``, ``boolean``,
``select``; other types show as text), a ``label``, and optionally
``description``, ``required``, ``default`` and, for a select, ``options``
(``{"label", "value"}`` pairs or plain values). A suspend without fields gets
Approve / Reject buttons, answered as ``{"approved": true | false}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELD_TYPES = ("text", "textarea", "number", "boolean", "select")
#: The button of a form without fields: its value says approve or reject.
DECISION = "_decision"
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    #: The value as the form declared it (a number stays a number when chosen).
    raw: Any


@dataclass(frozen=True)
class FormField:
    key: str
    type: str
    label: str
    description: str | None = None
    required: bool = False
    default: Any = None
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Form:
    title: str
    description: str | None = None
    fields: tuple[FormField, ...] = ()
    context: Any = None
    source: str | None = None
    tool: str | None = None

    @property
    def simple(self) -> bool:
        """No fields: answered with Approve / Reject."""
        return not self.fields


def form_of(data: Any) -> Form:
    """The form a suspend's ``data`` asks for (a default approval when it names none)."""
    record: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    raw = record.get("_form")
    spec: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    notify = record.get("_notify")
    message = notify.get("message") if isinstance(notify, Mapping) else None
    fields = tuple(f for f in (_field(item) for item in _list(spec.get("fields"))) if f)
    context = spec.get("context")
    if context is None and not spec:
        # No form: show what the suspend carries (its own keys, not ours).
        shown = {k: v for k, v in record.items() if not str(k).startswith("_")}
        context = shown if isinstance(data, Mapping) else data
    return Form(
        title=_text(spec.get("title")) or "Approval needed",
        description=_text(message) or _text(spec.get("description")),
        fields=fields,
        context=context if context not in ({}, None) else None,
        source=_text(record.get("_source")),
        tool=_text(record.get("_tool")),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def _field(item: Any) -> FormField | None:
    if not isinstance(item, Mapping):
        return None
    key = item.get("key") or item.get("name")
    if not isinstance(key, str) or not key or key == DECISION:
        return None
    kind = item.get("type")
    kind = kind if isinstance(kind, str) and kind in FIELD_TYPES else "text"
    options = tuple(_option(o) for o in _list(item.get("options")))
    if kind == "select" and not options:
        kind = "text"
    return FormField(
        key=key,
        type=kind,
        label=_text(item.get("label")) or key,
        description=_text(item.get("description")),
        required=bool(item.get("required")),
        default=item.get("default"),
        options=options,
    )


def _option(item: Any) -> Option:
    if isinstance(item, Mapping):
        raw = item.get("value", item.get("label"))
        return Option(_plain(raw), _text(item.get("label")) or _plain(raw), raw)
    return Option(_plain(item), _plain(item), item)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def initial_values(form: Form) -> dict[str, str]:
    """What each input shows first: its default, as the form's text."""
    return {f.key: _plain(f.default) for f in form.fields if f.default is not None}


def read_submission(
    form: Form, posted: Mapping[str, list[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The typed answer to ``form`` from posted text values, and the errors by field.

    Text stays text (as typed, empty included); a number is an int or a float
    (empty: null); a checkbox is true when ticked; a select must be one of its
    options and gives the option's declared value.
    """
    if form.simple:
        decision = _first(posted, DECISION)
        if decision not in ("approve", "reject"):
            return {}, {DECISION: "choose Approve or Reject"}
        return {"approved": decision == "approve"}, {}
    answer: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        text = _first(posted, f.key)
        if f.type == "boolean":
            answer[f.key] = text is not None and text.lower() in ("true", "on", "1", "yes")
            continue
        value = (text or "").strip() if f.type in ("number", "select") else (text or "")
        if f.required and not value.strip():
            errors[f.key] = f"{f.label} is required"
            continue
        if f.type == "number":
            if not value:
                answer[f.key] = None
                continue
            number = _number(value)
            if number is None:
                errors[f.key] = f"{f.label} must be a number, not {value!r}"
            else:
                answer[f.key] = number
        elif f.type == "select":
            if not value:
                answer[f.key] = None
                continue
            chosen = next((o for o in f.options if o.value == value), None)
            if chosen is None:
                errors[f.key] = f"{f.label}: {value!r} is not one of the choices"
            else:
                answer[f.key] = chosen.raw
        else:
            answer[f.key] = value
    return answer, errors


def _number(text: str) -> int | float | None:
    if _INTEGER.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _first(posted: Mapping[str, list[str]], key: str) -> str | None:
    values = posted.get(key)
    return values[-1] if values else None


def shown_values(form: Form, posted: Mapping[str, list[str]]) -> dict[str, str]:
    """What a re-shown form keeps of a refused submission."""
    out = {}
    for f in form.fields:
        text = _first(posted, f.key)
        if f.type == "boolean":
            out[f.key] = "true" if text is not None else "false"
        elif text is not None:
            out[f.key] = text
    return out
