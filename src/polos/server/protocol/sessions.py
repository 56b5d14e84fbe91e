"""Agent sessions as Polos's dashboard lists them (``GET /api/v1/sessions``, ``/{execution_id}``).

A session is the top-level agent runs that share a ``session_id`` (a run
without one is a session of its own), read from the runs in the store: the
agents our workers serve and those SDK workers registered alike. Each turn's
user message comes from the run's input, its tool calls and answer from the
agent's result (``tool_results``, ``result``, ``usage``: the same fields in
both kinds of agent result).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from ... import serialization
from ...engine import definition as registry
from ...store import ExecutionRow, Store
from ...store.vocabulary import WorkflowType
from ..endpoint import Endpoint
from ..errors import not_found
from ..http import Text, json_response, path_text, query
from ..models import Status, _Request
from ..state import server_state

_PAGE = 500
#: How many runs a listing without ``agent_id`` reads at most to fill one page.
_SCAN_LIMIT = 20_000
_PREVIEW = 200


class SessionsQuery(_Request):
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: Status | None = None
    agent_id: Text | None = None


class SessionSummary(BaseModel):
    execution_id: str = Field(description="The session's newest run")
    agent_id: str
    session_id: str | None = None
    status: str
    user_message_preview: str | None = None
    created_at: str | None = None
    total_tokens: int
    tool_call_count: int
    approval_count: int = 0
    error: Any = None
    execution_count: int


class SessionsResponse(BaseModel):
    sessions: list[SessionSummary]


class SessionDetail(BaseModel):
    execution_id: str
    agent_id: str
    session_id: str | None = None
    status: str
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: int | None = None
    error: Any = None
    payload: Any = None
    result: Any = None
    total_input_tokens: int
    total_output_tokens: int
    total_tokens: int
    tool_call_count: int
    approval_count: int = 0
    timeline: list[dict[str, Any]] = Field(
        description="user_message, tool_call and assistant_message entries, oldest first"
    )
    approvals: list[dict[str, Any]] = Field(default_factory=list)


async def _agent_ids(store: Store) -> set[str]:
    served = {w.workflow_id for w in await store.served_workflows() if w.workflow_type == "agent"}
    here = {d.id for d in registry.all_definitions() if str(d.kind) == WorkflowType.AGENT}
    return served | here


def _value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        value = serialization.loads(text, strict=False)
    except Exception:  # a value some other version wrote: show it as text
        return text
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _user_input(payload: Any) -> Any:
    if isinstance(payload, dict):
        for key in ("input", "message", "content", "prompt"):
            if payload.get(key) is not None:
                return payload[key]
        return None
    return payload if isinstance(payload, str) else None


def _preview(payload: Any) -> str | None:
    found = _user_input(payload)
    text = found if isinstance(found, str) else json.dumps(payload if found is None else found)
    return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "..."


def _tokens(result: Any, key: str) -> int:
    usage = result.get("usage") if isinstance(result, dict) else None
    count = usage.get(key) if isinstance(usage, dict) else None
    return count if isinstance(count, int) else 0


def _tool_results(result: Any) -> list[dict[str, Any]]:
    found = result.get("tool_results") if isinstance(result, dict) else None
    return [t for t in found or [] if isinstance(t, dict)]


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _error(row: ExecutionRow) -> Any:
    return _value(row.error)


async def _roots(store: Store, q: SessionsQuery) -> list[ExecutionRow]:
    """Top-level agent runs, newest first, ``q.offset`` skipped and at most ``q.limit``."""
    agents = await _agent_ids(store)
    wanted = q.offset + q.limit
    found: list[ExecutionRow] = []
    scanned = 0
    while len(found) < wanted and scanned < _SCAN_LIMIT:
        page = await store.list_executions(
            status=q.status,
            workflow_id=q.agent_id,
            limit=_PAGE,
            offset=scanned,
            created_after=None if q.start_time is None else q.start_time.timestamp(),
            created_before=None if q.end_time is None else q.end_time.timestamp(),
        )
        scanned += len(page)
        found += [r for r in page if r.parent_execution_id is None and r.workflow_id in agents]
        if len(page) < _PAGE:
            break
    return found[q.offset : wanted]


async def list_sessions(request: Request) -> Response:
    q = query(request, SessionsQuery)
    rows = await _roots(server_state(request).store, q)
    groups: dict[str, list[ExecutionRow]] = {}
    for row in rows:  # newest first: a session sits where its newest run is
        groups.setdefault(row.session_id or row.id, []).append(row)
    sessions: list[SessionSummary] = []
    for runs in groups.values():
        runs.sort(key=lambda r: r.created_at)
        first, last = runs[0], runs[-1]
        results = [_value(r.result) for r in runs]
        sessions.append(
            SessionSummary(
                execution_id=last.id,
                agent_id=first.workflow_id,
                session_id=first.session_id,
                status=last.status,
                user_message_preview=_preview(_value(first.payload)),
                created_at=_time(first.created_at),
                total_tokens=sum(_tokens(r, "total_tokens") for r in results),
                tool_call_count=sum(len(_tool_results(r)) for r in results),
                error=_error(last),
                execution_count=len(runs),
            )
        )
    return json_response(SessionsResponse(sessions=sessions))


def _turn(row: ExecutionRow) -> list[dict[str, Any]]:
    """One agent run as timeline entries: the user's message, tool calls, the answer."""
    entries: list[dict[str, Any]] = []
    root = row.root_execution_id or row.id
    said = _user_input(_value(row.payload))
    if said is not None:
        entries.append(
            {
                "entry_type": "user_message",
                "timestamp": _time(row.created_at),
                "data": {"role": "user", "content": said, "root_execution_id": root},
            }
        )
    result = _value(row.result)
    base = row.started_at or row.created_at
    for i, tool in enumerate(_tool_results(result)):
        entries.append(
            {
                "entry_type": "tool_call",
                "timestamp": _time(base + i / 1000),
                "data": {
                    "tool_name": tool.get("tool_name") or "unknown",
                    "status": tool.get("status") or "completed",
                    "result": tool.get("result"),
                    "root_execution_id": root,
                },
            }
        )
    answer = result.get("result") if isinstance(result, dict) else None
    if answer is not None:
        entries.append(
            {
                "entry_type": "assistant_message",
                "timestamp": _time(row.completed_at or row.created_at),
                "data": {"role": "assistant", "content": answer, "root_execution_id": root},
            }
        )
    return entries


async def get_session(request: Request) -> Response:
    store = server_state(request).store
    execution_id = path_text(request, "execution_id")
    row = await store.get_execution(execution_id)
    if row is None:
        raise not_found("session", f"no run {execution_id!r} here; list sessions first")
    agents = await _agent_ids(store)
    if row.session_id is not None:
        turns = sorted(
            [
                r
                for r in await store.list_executions(session_id=row.session_id, limit=1000)
                if r.workflow_id in agents
            ],
            key=lambda r: r.created_at,
        )
    else:
        turns = [row] if row.workflow_id in agents else []
    timeline = [entry for turn in turns for entry in _turn(turn)]
    results = [_value(r.result) for r in turns]
    started, completed = row.started_at, row.completed_at
    return json_response(
        SessionDetail(
            execution_id=row.id,
            agent_id=row.workflow_id,
            session_id=row.session_id,
            status=row.status,
            created_at=_time(row.created_at),
            started_at=_time(started),
            completed_at=_time(completed),
            duration_ms=None
            if started is None or completed is None
            else round((completed - started) * 1000),
            error=_error(row),
            payload=_value(row.payload),
            result=_value(row.result),
            total_input_tokens=sum(_tokens(r, "input_tokens") for r in results),
            total_output_tokens=sum(_tokens(r, "output_tokens") for r in results),
            total_tokens=sum(_tokens(r, "total_tokens") for r in results),
            tool_call_count=sum(len(_tool_results(r)) for r in results),
            timeline=timeline,
        )
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/sessions",
        list_sessions,
        "Agent sessions: top-level agent runs grouped by session id, newest first",
        "Sessions",
        query=SessionsQuery,
        response=SessionsResponse,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/sessions/{execution_id}",
        get_session,
        "One agent session: its runs' messages, tool calls and tokens as a timeline",
        "Sessions",
        response=SessionDetail,
        errors=(400, 404),
    ),
]
