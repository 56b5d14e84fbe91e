"""The approval page: plain HTML rendered on the server, a form that works without JavaScript.

Everything shown comes from the suspend's data and is escaped. The form
posts back to the page's own URL (``application/x-www-form-urlencoded``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from .forms import DECISION, Form, FormField
from .lookup import ANSWERED, PENDING, WAITING_STATUS, Approval

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;
color:#1f2328;margin:0;padding:2rem 1rem}
main{max-width:44rem;margin:0 auto;background:#fff;border-radius:10px;
box-shadow:0 1px 8px rgba(0,0,0,.08);overflow:hidden}
header{background:#1b1f3b;color:#fff;padding:1.25rem 1.75rem}
header h1{font-size:1.25rem;margin:0}
header p{margin:.35rem 0 0;font-size:.85rem;opacity:.8}
section{padding:1.5rem 1.75rem}
.description{line-height:1.55;margin:0 0 1.25rem}
.banner{padding:.85rem 1.1rem;border-radius:8px;margin:0 0 1.25rem;line-height:1.45}
.ok{background:#dcfce7;color:#14532d}.warn{background:#fef9c3;color:#713f12}
.bad{background:#fee2e2;color:#7f1d1d}.info{background:#e0e7ff;color:#312e81}
dl.context{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;
background:#f8f9fb;border:1px solid #e4e7ec;border-radius:8px;padding:1rem;margin:0 0 1.5rem}
dl.context dt{font-weight:600;color:#4b5563}dl.context dd{margin:0;word-break:break-word}
pre{margin:0;white-space:pre-wrap;font-size:.85rem}
.field{margin:0 0 1.1rem}
.field label{display:block;font-weight:600;margin-bottom:.3rem}
.field .help{font-size:.85rem;color:#6b7280;margin:.25rem 0 0}
.field .error{font-size:.85rem;color:#b91c1c;margin:.25rem 0 0}
.required{color:#b91c1c}
.field input[type=text],.field input[type=number],.field textarea,.field select{
width:100%;padding:.55rem .65rem;border:1px solid #cbd2dc;border-radius:6px;font:inherit}
.field textarea{min-height:6rem}
.check label{display:flex;gap:.5rem;align-items:center;font-weight:600}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{padding:.6rem 1.4rem;border:0;border-radius:6px;font:inherit;font-weight:600;cursor:pointer;
background:#2563eb;color:#fff}
button.approve{background:#16a34a}button.reject{background:#dc2626}
footer{padding:.85rem 1.75rem;font-size:.8rem;color:#6b7280;border-top:1px solid #eef0f3}
"""


def page(
    approval: Approval,
    form: Form | None,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: tuple[str, str] | None = None,
) -> str:
    """The page for ``approval``: the form while it waits, else where it stands.

    ``notice`` is a banner (css class, text) shown above everything else.
    """
    title = form.title if form is not None else "Approval"
    parts: list[str] = []
    if notice is not None:
        parts.append(_banner(*notice))
    if approval.status == WAITING_STATUS and form is not None:
        if form.description:
            parts.append(f'<p class="description">{escape(form.description)}</p>')
        if form.context is not None:
            parts.append(_context(form.context))
        if errors and DECISION in errors:
            parts.append(_banner("bad", errors[DECISION]))
        parts.append(_form(form, values or {}, errors or {}))
    elif approval.status == ANSWERED:
        if notice is None:
            parts.append(_banner("info", "This request was already answered."))
        if approval.response is not None:
            parts.append("<p>The response the run received:</p>")
            parts.append(_context(approval.response))
    elif approval.status == PENDING:
        parts.append(
            _banner(
                "warn",
                "This run is not waiting for a response at this step right now "
                "(it has not reached it yet, or went past it). Reload this page later.",
            )
        )
    else:
        parts.append(
            _banner("info", f"This run has {escape(approval.status)}; there is nothing to approve.")
        )
    return _document(title, _subtitle(approval), "".join(parts), _footer(approval))


def message_page(title: str, message: str, kind: str = "bad") -> str:
    """A page that only says something (an unknown link, a refusal)."""
    return _document(title, None, _banner(kind, message), None)


def _document(title: str, subtitle: str | None, body: str, footer: str | None) -> str:
    sub = f"<p>{escape(subtitle)}</p>" if subtitle else ""
    foot = f"<footer>{footer}</footer>" if footer else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<header><h1>{escape(title)}</h1>{sub}</header><section>{body}</section>{foot}"
        "</main></body></html>"
    )


def _subtitle(approval: Approval) -> str:
    run = approval.run
    workflow = run.workflow_id if run is not None else approval.root.workflow_id
    return f"{workflow} · step {approval.step_key}"


def _footer(approval: Approval) -> str:
    text = f"Run {escape(approval.root.id)}"
    if approval.expires_at is not None:
        at = datetime.fromtimestamp(approval.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        text += f" · answer before {escape(at)}"
    return text


def _banner(kind: str, text: str) -> str:
    return f'<div class="banner {escape(kind)}" role="status">{escape(text)}</div>'


def _context(value: Any) -> str:
    if isinstance(value, Mapping) and value:
        rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{_value(v)}</dd>" for k, v in value.items())
        return f'<dl class="context">{rows}</dl>'
    return f'<dl class="context"><dd>{_value(value)}</dd></dl>'


def _value(value: Any) -> str:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, bool) or value is None:
        return escape(json.dumps(value))
    if isinstance(value, int | float):
        return escape(str(value))
    return f"<pre>{escape(json.dumps(value, indent=2, default=str))}</pre>"


def _form(form: Form, values: Mapping[str, str], errors: Mapping[str, str]) -> str:
    # No action: the form posts to the page's own URL, as the person reached it
    # (behind a proxy, under whatever prefix it adds).
    out = ['<form method="post">']
    if form.simple:
        out.append(
            '<div class="actions">'
            f'<button class="approve" type="submit" name="{DECISION}" value="approve">Approve</button>'
            f'<button class="reject" type="submit" name="{DECISION}" value="reject">Reject</button>'
            "</div>"
        )
    else:
        out.extend(_field(f, values.get(f.key), errors.get(f.key)) for f in form.fields)
        out.append('<div class="actions"><button type="submit">Submit</button></div>')
    out.append("</form>")
    return "".join(out)


def _field(f: FormField, value: str | None, error: str | None) -> str:
    name = escape(f.key)
    ident = f"field-{name}"
    required = " required" if f.required else ""
    help_text = f'<p class="help">{escape(f.description)}</p>' if f.description else ""
    error_text = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    label = escape(f.label)
    if f.required and f.type != "boolean":
        label += ' <span class="required" title="required">*</span>'
    if f.type == "boolean":
        checked = " checked" if (value or "").lower() in ("true", "on", "1", "yes") else ""
        return (
            f'<div class="field check"><label for="{ident}">'
            f'<input type="checkbox" id="{ident}" name="{name}" value="true"{checked}> {label}'
            f"</label>{help_text}{error_text}</div>"
        )
    shown = escape(value or "")
    if f.type == "textarea":
        control = f'<textarea id="{ident}" name="{name}"{required}>{shown}</textarea>'
    elif f.type == "number":
        control = (
            f'<input type="number" step="any" id="{ident}" name="{name}" value="{shown}"{required}>'
        )
    elif f.type == "select":
        options = [] if f.required and value else ['<option value=""></option>']
        for option in f.options:
            selected = " selected" if option.value == value else ""
            options.append(
                f'<option value="{escape(option.value)}"{selected}>{escape(option.label)}</option>'
            )
        control = f'<select id="{ident}" name="{name}"{required}>{"".join(options)}</select>'
    else:
        control = f'<input type="text" id="{ident}" name="{name}" value="{shown}"{required}>'
    return (
        f'<div class="field"><label for="{ident}">{label}</label>{control}{help_text}'
        f"{error_text}</div>"
    )
