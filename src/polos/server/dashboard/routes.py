"""The dashboard's pages and the fragments htmx polls to keep them live.

A fragment is polled with the version (``v``) of what the page shows; while
nothing changed the answer is ``204 No Content``, which htmx does not swap, so
an expanded value or a focused link stays as the person left it.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ...store import ExecutionRow
from ...store.vocabulary import FINAL_STATUSES, Status
from ..auth import KEY_COOKIE
from ..http import storable_text
from ..state import ServerState, server_state
from .conversation import conversation, is_agent_run
from .render import render
from .signin import login, login_page, logout
from .timeline import timeline
from .values import plain

PAGE_SIZE = 25
#: The "created within" choices of the run list: label -> seconds.
SINCE = {"15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400}
_NAV = [
    ("/", "Runs"),
    ("/approvals", "Approvals"),
    ("/events", "Events"),
    ("/schedules", "Schedules"),
    ("/queues", "Queues"),
    ("/workers", "Workers"),
]


def _version(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def _unchanged(request: Request, version: str) -> bool:
    return request.headers.get("hx-request") == "true" and request.query_params.get("v") == version


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    signed_in = KEY_COOKIE in request.cookies
    return render(template, status, nav=_NAV, path=request.url.path, signed_in=signed_in, **context)


def _now(state: ServerState) -> float:
    return state.client.clock.now()


def _text(request: Request, name: str, limit: int = 255) -> str | None:
    """A query parameter as stored text, None when absent, empty or unusable."""
    value = (request.query_params.get(name) or "").strip()[:limit]
    try:
        return storable_text(value) or None
    except ValueError:
        return None


# runs ----------------------------------------------------------------------------------
#: How an agent's stored result names its class (only an agent's result has a cost).
_AGENT_RESULT = '"polos.agents.results:AgentResult"'


def _cost(row: ExecutionRow) -> float | None:
    """An agent run's cost, when its result says (agents with prices)."""
    if row.result is None or _AGENT_RESULT not in row.result:
        return None
    result = plain(row.result)
    value = result.get("cost") if isinstance(result, dict) else None
    return float(value) if isinstance(value, int | float) else None


async def _runs(request: Request) -> dict[str, Any]:
    state = server_state(request)
    now = _now(state)
    status = _text(request, "status")
    status = status if status in {s.value for s in Status} else None
    since = _text(request, "since")
    since = since if since in SINCE else None
    filters = {
        "status": status,
        "workflow": _text(request, "workflow"),
        "since": since,
        "session": _text(request, "session"),
        "q": _text(request, "q"),
    }
    try:
        offset = max(int(request.query_params.get("offset") or 0), 0)
    except ValueError:
        offset = 0
    rows = await state.store.list_executions(
        status=status,
        workflow_id=filters["workflow"],
        session_id=filters["session"],
        id_contains=filters["q"],
        created_after=now - SINCE[since] if since else None,
        limit=PAGE_SIZE + 1,
        offset=offset,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    query = {k: v for k, v in filters.items() if v}
    version = _version(query, offset, [(r.id, r.status, r.updated_at) for r in rows], more)
    return {
        "rows": [(r, _cost(r)) for r in rows],
        "filters": filters,
        "query": urlencode(query),
        "offset": offset,
        "newer": urlencode({**query, "offset": max(offset - PAGE_SIZE, 0)}) if offset else None,
        "older": urlencode({**query, "offset": offset + PAGE_SIZE}) if more else None,
        "poll": urlencode({**query, "offset": offset, "v": version}),
        "version": version,
        "now": now,
        "statuses": [s.value for s in Status],
        "since_choices": list(SINCE),
        "workflows": sorted(await state.store.all_workflows()),
    }


async def runs_page(request: Request) -> Response:
    return _page(request, "runs.html", title="Runs", **await _runs(request))


async def runs_fragment(request: Request) -> Response:
    context = await _runs(request)
    if _unchanged(request, context["version"]):
        return Response(status_code=204)
    return render("_runs_table.html", **context)


# one run -------------------------------------------------------------------------------
def _tree(rows: list[ExecutionRow], current: str) -> list[dict[str, Any]]:
    """The run tree as nested nodes, children in the order they were started."""
    nodes: dict[str, dict[str, Any]] = {
        r.id: {"row": r, "children": [], "current": r.id == current} for r in rows
    }
    roots: list[dict[str, Any]] = []
    for r in rows:
        parent = nodes.get(r.parent_execution_id or "")
        siblings: list[dict[str, Any]] = parent["children"] if parent is not None else roots
        siblings.append(nodes[r.id])
    return roots


def _path_id(request: Request) -> str:
    return str(request.path_params["execution_id"])


async def _run(request: Request, execution_id: str) -> dict[str, Any] | None:
    state = server_state(request)
    store = state.store
    row = await _find(state, execution_id)
    if row is None:
        return None
    now = _now(state)
    steps = await store.list_steps(execution_id)
    history = await store.list_history(execution_id)
    tree_rows = await store.list_run_tree(row.root_execution_id or row.id)
    line = timeline(row, steps, history, now)
    bars = {b.key: b for b in line.bars}
    talk = None
    if is_agent_run(steps):
        children = {r.id: r for r in tree_rows if r.parent_execution_id == row.id}
        talk = conversation(row, steps, bars, children, now)
    started: dict[str, list[ExecutionRow]] = {}
    for child in tree_rows:
        if child.parent_execution_id == row.id and child.step_key:
            started.setdefault(child.step_key, []).append(child)
    active = row.status not in FINAL_STATUSES
    version = _version(
        row.status,
        row.updated_at,
        len(steps),
        len(history),
        [(r.id, r.status, r.updated_at) for r in tree_rows],
    )
    suspended = row.status == Status.WAITING and row.wait_kind == "suspend" and row.wait_step_key
    return {
        "row": row,
        "payload": plain(row.payload),
        "result": plain(row.result),
        "error": row.error and plain(row.error),
        "state": plain(row.state),
        "timeline": line,
        "tree": _tree(tree_rows, row.id),
        "tree_size": len(tree_rows),
        "started": started,
        "history": history,
        "conversation": talk,
        "active": active,
        "now": now,
        "version": version,
        "approval_path": (
            f"/approve/{quote(row.id, safe='')}/{quote(row.wait_step_key or '', safe='')}"
            if suspended
            else None
        ),
        "quoted_id": quote(row.id, safe=""),
    }


async def _find(state: ServerState, execution_id: str) -> ExecutionRow | None:
    """The run, or None: unknown, or an id no database could hold (a NUL in a link)."""
    try:
        storable_text(execution_id)
    except ValueError:
        return None
    return await state.store.get_execution(execution_id)


def _missing(request: Request, execution_id: str) -> Response:
    return _page(
        request,
        "message.html",
        404,
        title="Run not found",
        message=f"There is no run with id {execution_id!r} in this database.",
    )


async def run_page(request: Request) -> Response:
    execution_id = _path_id(request)
    context = await _run(request, execution_id)
    if context is None:
        return _missing(request, execution_id)
    return _page(request, "run.html", title=f"{context['row'].workflow_id} run", **context)


async def run_fragment(request: Request) -> Response:
    execution_id = _path_id(request)
    context = await _run(request, execution_id)
    if context is None:
        return _missing(request, execution_id)
    if _unchanged(request, context["version"]):
        return Response(status_code=204)
    return render("_run_live.html", **context)


def _cross_site(request: Request) -> bool:
    """A form posted from another site (a page the person visited): refused."""
    return request.headers.get("sec-fetch-site") == "cross-site"


async def cancel_run(request: Request) -> Response:
    state = server_state(request)
    execution_id = _path_id(request)
    if _cross_site(request):
        return _page(
            request,
            "message.html",
            403,
            title="Refused",
            message="Cancelling a run is only accepted from the dashboard's own pages.",
        )
    if await _find(state, execution_id) is None:
        return _missing(request, execution_id)
    await state.client.cancel_execution(execution_id)
    return RedirectResponse(f"../{quote(execution_id, safe='')}", 303)


# operations ----------------------------------------------------------------------------
async def approvals_page(request: Request) -> Response:
    state = server_state(request)
    waiting = await state.client.list_suspended()
    items = []
    for s in waiting:
        data = s.data if isinstance(s.data, dict) else {}
        form = data.get("_form") if isinstance(data.get("_form"), dict) else {}
        assert isinstance(form, dict)
        items.append(
            {
                "info": s,
                "title": form.get("title") or s.step_key,
                "description": form.get("description"),
                "path": f"/approve/{quote(s.execution_id, safe='')}/{quote(s.step_key, safe='')}",
            }
        )
    return _page(request, "approvals.html", title="Approvals", items=items, now=_now(state))


async def events_page(request: Request) -> Response:
    state = server_state(request)
    topic = _text(request, "topic", 512)
    try:
        after = max(int(request.query_params.get("after") or 0), 0)
    except ValueError:
        after = 0
    events = []
    more = False
    if topic:
        rows = await state.store.read_events(topic, after, PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        events = [(e, plain(e.data)) for e in rows[:PAGE_SIZE]]
    return _page(
        request,
        "events.html",
        title=f"Events on {topic}" if topic else "Events",
        topics=await state.store.list_topics(limit=200),
        topic=topic,
        events=events,
        after=after,
        next_after=events[-1][0].seq if more and events else None,
        quote=quote,
    )


async def schedules_page(request: Request) -> Response:
    state = server_state(request)
    rows = sorted(await state.store.list_schedules(), key=lambda s: s.next_fire_at)
    return _page(request, "schedules.html", title="Schedules", schedules=rows, now=_now(state))


async def queues_page(request: Request) -> Response:
    state = server_state(request)
    return _page(request, "queues.html", title="Queues", queues=await state.client.queue_stats())


async def workers_page(request: Request) -> Response:
    state = server_state(request)
    workers = sorted(await state.store.list_workers(), key=lambda w: -w.heartbeat_at)
    return _page(request, "workers.html", title="Workers", workers=workers, now=_now(state))


def dashboard_routes() -> list[BaseRoute]:
    """The dashboard's routes, to add to the server's app (none is in the OpenAPI document)."""
    return [
        Route("/", runs_page, methods=["GET"]),
        Route("/ui/runs", runs_fragment, methods=["GET"]),
        Route("/runs/{execution_id}", run_page, methods=["GET"]),
        Route("/ui/runs/{execution_id}", run_fragment, methods=["GET"]),
        Route("/runs/{execution_id}/cancel", cancel_run, methods=["POST"]),
        Route("/approvals", approvals_page, methods=["GET"]),
        Route("/events", events_page, methods=["GET"]),
        Route("/schedules", schedules_page, methods=["GET"]),
        Route("/queues", queues_page, methods=["GET"]),
        Route("/workers", workers_page, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount(
            "/ui/static",
            StaticFiles(packages=[("polos.server.dashboard", "static")]),
            name="dashboard-static",
        ),
    ]
