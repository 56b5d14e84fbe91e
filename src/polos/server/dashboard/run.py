"""A run's page: its tree, its steps on a timeline, an agent's conversation, its history."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ...runtime.deployments import deployment_served, served_for
from ...store import ExecutionRow
from ...store.vocabulary import FINAL_STATUSES, Status
from ..state import server_state
from .common import clock_now, find_run, page_version, run_part, run_view
from .conversation import conversation, is_agent_run
from .timeline import timeline
from .values import plain


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


async def run_context(request: Request, execution_id: str) -> dict[str, Any] | None:
    state = server_state(request)
    store = state.store
    row = await find_run(state, execution_id)
    if row is None:
        return None
    now = clock_now(state)
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
    served = deployment_served(row, await served_for(store, [row], now))
    version = page_version(
        served,
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
        "served": served,
        "now": now,
        "version": version,
        "approval_path": (
            f"/approve/{quote(row.id, safe='')}/{quote(row.wait_step_key or '', safe='')}"
            if suspended
            else None
        ),
        "quoted_id": quote(row.id, safe=""),
    }


async def run_page(request: Request) -> Response:
    return await run_view(request, run_context, "run.html", "run")


async def run_fragment(request: Request) -> Response:
    return await run_part(request, run_context, "_run_live.html")
