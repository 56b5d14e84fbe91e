"""A run's trace page (``/runs/{id}/trace``): its whole tree as a span waterfall."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ...store.vocabulary import FINAL_STATUSES
from ..state import server_state
from .common import clock_now, find_run, page_version, run_part, run_view
from .trace import load_trace


async def trace_context(request: Request, execution_id: str) -> dict[str, Any] | None:
    state = server_state(request)
    row = await find_run(state, execution_id)
    if row is None:
        return None
    root = row
    if row.root_execution_id and row.root_execution_id != row.id:
        root = await state.store.get_execution(row.root_execution_id) or row
    now = clock_now(state)
    trace = await load_trace(state.store, root, row.id, now)
    rows = trace.rows()
    # ``row`` was read before the tree: a run that ended in between is shown
    # with the older status (the header, ``data-status``). So the part stays
    # live while that status is not final, and the status is in the version:
    # the next check sees the end and the page fetches the part again. (Live
    # by the tree alone, such a part was rendered final and stayed "running".)
    active = row.status not in FINAL_STATUSES or any(
        s.kind == "run" and s.status not in FINAL_STATUSES for s in rows
    )
    version = page_version(
        row.status,
        trace.runs_total,
        [(s.execution_id, s.step_key, s.status, s.start, s.end) for s in rows],
    )
    return {
        "row": row,
        "root": root,
        "trace": trace,
        "rows": rows,
        "active": active,
        "now": now,
        "version": version,
        "quoted_id": quote(row.id, safe=""),
    }


async def trace_page(request: Request) -> Response:
    return await run_view(request, trace_context, "trace.html", "trace")


async def trace_fragment(request: Request) -> Response:
    return await run_part(request, trace_context, "_trace_live.html")
