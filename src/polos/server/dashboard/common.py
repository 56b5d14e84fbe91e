"""What every dashboard page shares: the frame, the live-fragment version, reading
parameters, finding a run."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...store import ExecutionRow
from ..auth import KEY_COOKIE
from ..http import storable_text
from ..state import ServerState
from .render import render

NAV = [
    ("/", "Runs"),
    ("/approvals", "Approvals"),
    ("/events", "Events"),
    ("/schedules", "Schedules"),
    ("/queues", "Queues"),
    ("/workers", "Workers"),
]


def page_version(*parts: Any) -> str:
    """A short digest of what a live part shows: the same digest, nothing to redraw."""
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def unchanged(request: Request, version: str) -> bool:
    """An htmx poll from a page that already shows ``version``."""
    return request.headers.get("hx-request") == "true" and request.query_params.get("v") == version


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    signed_in = KEY_COOKIE in request.cookies
    return render(template, status, nav=NAV, path=request.url.path, signed_in=signed_in, **context)


def clock_now(state: ServerState) -> float:
    return state.client.clock.now()


def text(request: Request, name: str, limit: int = 255) -> str | None:
    """A query parameter as stored text, None when absent, empty or unusable."""
    value = (request.query_params.get(name) or "").strip()[:limit]
    try:
        return storable_text(value) or None
    except ValueError:
        return None


def path_id(request: Request) -> str:
    return str(request.path_params["execution_id"])


async def find_run(state: ServerState, execution_id: str) -> ExecutionRow | None:
    """The run, or None: unknown, or an id no database could hold (a NUL in a link)."""
    try:
        storable_text(execution_id)
    except ValueError:
        return None
    return await state.store.get_execution(execution_id)


def missing(request: Request, execution_id: str) -> Response:
    return page(
        request,
        "message.html",
        404,
        title="Run not found",
        message=f"There is no run with id {execution_id!r} in this database.",
    )


RunContext = Callable[[Request, str], Awaitable[dict[str, Any] | None]]


async def run_view(request: Request, context: RunContext, template: str, what: str) -> Response:
    """A page about one run (its id in the path), or the not-found page."""
    execution_id = path_id(request)
    made = await context(request, execution_id)
    if made is None:
        return missing(request, execution_id)
    return page(request, template, title=f"{made['row'].workflow_id} {what}", **made)


async def run_part(request: Request, context: RunContext, template: str) -> Response:
    """The live part of a run's page: ``204`` while it shows what the page has."""
    execution_id = path_id(request)
    made = await context(request, execution_id)
    if made is None:
        return missing(request, execution_id)
    if unchanged(request, made["version"]):
        return Response(status_code=204)
    return render(template, **made)
