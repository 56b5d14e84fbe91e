"""Templates: one Jinja2 environment (autoescaped) and the filters the pages use."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

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
    """``0.4 ms``, ``12 ms``, ``1.25 s``, ``3 min 4 s``, ``2 h 5 min``, ``3 d 4 h``."""
    if seconds is None:
        return "—"
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


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
