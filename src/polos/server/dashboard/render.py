"""Templates: one Jinja2 environment (autoescaped) and the filters the pages use."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from ...durations import describe_seconds
from .values import pretty, short


def at(epoch: float | None) -> str:
    """A moment as people read it, in UTC to the second."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(epoch: float | None) -> str:
    """A moment for ``<time datetime=...>``."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def duration(seconds: float | None) -> str:
    """A duration as ``describe_seconds`` writes it; an em dash when unknown."""
    return "—" if seconds is None else describe_seconds(seconds)


def ago(epoch: float | None, now: float | None = None) -> str:
    if epoch is None:
        return "—"
    delta = (now if now is not None else time.time()) - epoch
    if delta < 0:
        return "in " + duration(-delta)
    return duration(delta) + " ago"


def cost(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.01:
        return f"${value:.6f}"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


_env = Environment(
    loader=PackageLoader("polos.server.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    at=at, iso=iso, duration=duration, ago=ago, cost=cost, pretty=pretty, short=short
)


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status, headers={"Cache-Control": "no-store"})
