"""The run list: filters, paging, and the fragment htmx polls to keep it live."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ...runtime.deployments import deployment_served, served_for
from ...store import ExecutionRow
from ...store.vocabulary import Status
from ..state import server_state
from .common import clock_now, page, page_version, text, unchanged
from .render import render
from .values import plain

PAGE_SIZE = 25
#: The "created within" choices of the run list: label -> seconds.
SINCE = {"15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400}


#: How an agent's stored result names its class (only an agent's result has a cost).
_AGENT_RESULT = '"polos.agents.results:AgentResult"'


def _cost(row: ExecutionRow) -> float | None:
    """An agent run's cost, when its result says (agents with prices)."""
    if row.result is None or _AGENT_RESULT not in row.result:
        return None
    result = plain(row.result)
    value = result.get("cost") if isinstance(result, dict) else None
    return float(value) if isinstance(value, int | float) else None


async def runs_context(request: Request) -> dict[str, Any]:
    state = server_state(request)
    now = clock_now(state)
    status = text(request, "status")
    status = status if status in {s.value for s in Status} else None
    since = text(request, "since")
    since = since if since in SINCE else None
    filters = {
        "status": status,
        "workflow": text(request, "workflow"),
        "since": since,
        "session": text(request, "session"),
        "q": text(request, "q"),
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
    served = await served_for(state.store, rows, now)
    flags = [deployment_served(r, served) for r in rows]
    version = page_version(
        query, offset, [(r.id, r.status, r.updated_at) for r in rows], more, flags
    )
    return {
        "rows": [(r, _cost(r), flag) for r, flag in zip(rows, flags, strict=True)],
        "filters": filters,
        "query": urlencode(query),
        "offset": offset,
        "newer": urlencode({**query, "offset": max(offset - PAGE_SIZE, 0)}) if offset else None,
        "older": urlencode({**query, "offset": offset + PAGE_SIZE}) if more else None,
        "poll": urlencode({**query, "offset": offset, "v": version}),
        "live": urlencode({**query, "offset": offset}),
        "version": version,
        "now": now,
        "statuses": [s.value for s in Status],
        "since_choices": list(SINCE),
        "workflows": sorted(await state.store.all_workflows()),
    }


async def runs_page(request: Request) -> Response:
    return page(request, "runs.html", title="Runs", **await runs_context(request))


async def runs_fragment(request: Request) -> Response:
    context = await runs_context(request)
    if unchanged(request, context["version"]):
        return Response(status_code=204)
    return render("_runs_table.html", **context)
