"""Agent state the SDKs keep on the orchestrator: session memory and conversation history.

Session memory (``GET``/``PUT /internal/session/{session_id}/memory``): Polos's
SDK agent loads ``{summary, messages}`` at the start of a run and stores the
whole of it back at the end. We keep no second copy: a session lives in our own
memory log, the event topic ``polos.session/<id>`` our agents read and append
to (:mod:`polos.agents.memory`). A ``PUT`` appends a ``compaction`` event (the
summary, and the messages converted to our ``Message`` form, with the SDK's own
items kept verbatim beside them); a ``GET`` reads from the latest compaction
on, converting what our agents appended since. So one session can be carried
on by our agents and SDK agents in turn, each seeing what the other said.

Conversation history (``POST /internal/conversation/{id}/add``, ``GET
/api/v1/conversation/{id}/get``; the TypeScript SDK's): one event per message
on the topic ``polos.conversation/<id>``. Polos deletes all but the newest
``conversation_history_limit`` messages on each add; an append-only log cannot,
so the limit is recorded with the message and applied when reading.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ... import serialization
from ...agents.memory import COMPACTION, MESSAGES, session_topic
from ...agents.providers.types import Message, ToolCall, ToolResult
from ...store import Store
from ...store.records import EventRow
from ...types import EventData
from ..endpoint import Endpoint
from ..errors import bad_request, client_errors
from ..http import Text, body, json_response, query
from ..models import _Request
from ..state import server_state

_PAGE = 500
#: The event type of one conversation-history message.
CONVERSATION_MESSAGE = "message"


def conversation_topic(conversation_id: str) -> str:
    return f"polos.conversation/{conversation_id}"


# converting between the SDK's session items and our messages -----------------------------
def _text(content: Any) -> str:
    """A message's content as text: Polos's items may carry a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        if texts and all(isinstance(t, str) for t in texts):
            return "".join(t for t in texts if isinstance(t, str))
    return json.dumps(content)


def from_sdk(items: list[Any]) -> list[Message]:
    """The SDK's normalized session items as our messages.

    The SDK writes ``{"role", "content"}`` messages, and a tool call and its
    answer as separate ``function_call`` / ``function_call_output`` items; we
    attach calls to the assistant message before them and group consecutive
    outputs into one ``tool`` message, as our providers expect.
    """
    out: list[Message] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            call = ToolCall.from_raw(
                str(item.get("call_id") or ""),
                str(item.get("name") or ""),
                str(item.get("arguments") or "{}"),
            )
            if out and out[-1].role == "assistant":
                out[-1].tool_calls.append(call)
            else:
                out.append(Message(role="assistant", tool_calls=[call]))
        elif kind == "function_call_output":
            result = ToolResult(
                tool_call_id=str(item.get("call_id") or ""), content=_text(item.get("output"))
            )
            if out and out[-1].role == "tool":
                out[-1].tool_results.append(result)
            else:
                out.append(Message(role="tool", tool_results=[result]))
        elif item.get("role") in ("user", "assistant", "system"):
            out.append(Message(role=item["role"], content=_text(item.get("content"))))
    return out


def to_sdk(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages as the SDK's normalized session items (the inverse of :func:`from_sdk`)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.extend(
                {"type": "function_call_output", "call_id": r.tool_call_id, "output": r.content}
                for r in m.tool_results
            )
            continue
        if m.content or not m.tool_calls:
            out.append({"role": m.role, "content": m.content})
        out.extend(
            {
                "type": "function_call",
                "name": c.name,
                "call_id": c.id,
                "arguments": c.raw_arguments,
            }
            for c in m.tool_calls
        )
    return out


async def _read_all(store: Store, topic: str) -> list[EventRow]:
    rows: list[EventRow] = []
    while True:
        page = await store.read_events(topic, rows[-1].seq if rows else 0, _PAGE)
        rows += page
        if len(page) < _PAGE:
            return rows


def _messages(raw: Any) -> list[Message]:
    try:
        return [Message.model_validate(m) for m in raw or []]
    except ValidationError:  # written by some other version: skip rather than fail the run
        return []


async def read_session(store: Store, session_id: str) -> tuple[str | None, list[dict[str, Any]]]:
    """A session's summary and messages in the SDK's form."""
    summary: str | None = None
    items: list[dict[str, Any]] = []
    for row in await _read_all(store, session_topic(session_id)):
        data = serialization.loads(row.data, strict=False)
        if not isinstance(data, dict):
            continue
        if row.event_type == COMPACTION:
            summary = data.get("summary") or None
            verbatim = data.get("sdk_messages")
            items = (
                list(verbatim) if isinstance(verbatim, list) else to_sdk(_messages(data["kept"]))
            )
        elif row.event_type == MESSAGES:
            items += to_sdk(_messages(data.get("messages")))
    return summary, items


# session memory -------------------------------------------------------------------------
class SessionMemoryBody(_Request):
    """``PUT /internal/session/{session_id}/memory``: the whole memory, replacing the last."""

    summary: str | None = None
    messages: list[Any] = Field(default_factory=list)


class Done(BaseModel):
    """An empty JSON object: Polos answers these routes 200 with an empty body, which
    both SDKs accept, as they accept ``{}``."""


class SessionMemoryResponse(_Request):
    summary: str | None = None
    messages: list[Any] = Field(default_factory=list)


def _path_id(request: Request, kind: str) -> str:
    """The ``{kind}_id`` path parameter, refused (400) when empty or holding a NUL.

    The SDK percent-encodes the id (slashes included); the server decoded it once
    already, and the ``:path`` converter keeps a decoded slash in it."""
    value: str = request.path_params[f"{kind}_id"]
    if not value or "\x00" in value:
        raise bad_request(f"the {kind} id in the path is empty or holds a NUL character")
    return value


async def get_session_memory(request: Request) -> Response:
    store = server_state(request).store
    summary, items = await read_session(store, _path_id(request, "session"))
    return json_response(SessionMemoryResponse(summary=summary, messages=items))


async def put_session_memory(request: Request) -> Response:
    state = server_state(request)
    session_id = _path_id(request, "session")
    req = await body(request, SessionMemoryBody, state.settings.max_body_bytes)
    data = {
        "summary": req.summary,
        "kept": [m.model_dump(mode="json") for m in from_sdk(req.messages)],
        # Kept as sent so that the SDK reads back exactly what it stored.
        "sdk_messages": req.messages,
    }
    with client_errors(arguments=True):
        await state.client.batch_publish(
            session_topic(session_id), [EventData(event_type=COMPACTION, data=data)]
        )
    return json_response(Done())


# conversation history -------------------------------------------------------------------
class AddConversationRequest(_Request):
    """Polos's ``AddConversationHistoryRequest`` (the TypeScript SDK sends it)."""

    agent_id: Text = Field(min_length=1)
    role: Text = Field(min_length=1)
    content: Any = None
    agent_run_id: Text | None = None
    conversation_history_limit: int | None = Field(default=None, ge=1)


class ConversationQuery(_Request):
    agent_id: Text = Field(min_length=1)
    deployment_id: Text | None = None
    limit: int | None = Field(default=None, ge=1)


class ConversationMessage(_Request):
    id: int
    conversation_id: str
    agent_id: str
    role: str
    content: Any = None
    created_at: datetime
    agent_run_id: str | None = None


class ConversationResponse(_Request):
    messages: list[ConversationMessage]


async def add_conversation(request: Request) -> Response:
    state = server_state(request)
    conversation_id = _path_id(request, "conversation")
    req = await body(request, AddConversationRequest, state.settings.max_body_bytes)
    data = {
        "agent_id": req.agent_id,
        "role": req.role,
        "content": req.content,
        "agent_run_id": req.agent_run_id,
        "limit": req.conversation_history_limit,
    }
    with client_errors(arguments=True):
        await state.client.batch_publish(
            conversation_topic(conversation_id),
            [EventData(event_type=CONVERSATION_MESSAGE, data=data)],
        )
    return json_response(Done())


async def get_conversation(request: Request) -> Response:
    store = server_state(request).store
    conversation_id = _path_id(request, "conversation")
    q = query(request, ConversationQuery)
    found: list[ConversationMessage] = []
    for row in await _read_all(store, conversation_topic(conversation_id)):
        data = serialization.loads(row.data, strict=False)
        if not isinstance(data, dict) or data.get("agent_id") != q.agent_id:
            continue
        found.append(
            ConversationMessage(
                id=row.seq,
                conversation_id=conversation_id,
                agent_id=q.agent_id,
                role=str(data.get("role")),
                content=data.get("content"),
                created_at=datetime.fromtimestamp(row.created_at, UTC),
                agent_run_id=data.get("agent_run_id"),
            )
        )
        kept = data.get("limit")
        if isinstance(kept, int) and kept > 0:
            found = found[-kept:]  # what Polos would have deleted on this add
    if q.limit is not None:
        found = found[-q.limit :]
    return json_response(ConversationResponse(messages=found))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/internal/session/{session_id}/memory",
        get_session_memory,
        "A session's memory (summary and messages) in the SDK's form, from our session log",
        "Agent state",
        response=SessionMemoryResponse,
        errors=(400, 404),
        route_path="/internal/session/{session_id:path}/memory",
    ),
    Endpoint(
        "PUT",
        "/internal/session/{session_id}/memory",
        put_session_memory,
        "Store a session's memory (appended to our session log as a compaction)",
        "Agent state",
        body=SessionMemoryBody,
        response=Done,
        errors=(400, 404, 413, 422),
        route_path="/internal/session/{session_id:path}/memory",
    ),
    Endpoint(
        "POST",
        "/internal/conversation/{conversation_id}/add",
        add_conversation,
        "Append a message to an agent's conversation history",
        "Agent state",
        body=AddConversationRequest,
        response=Done,
        errors=(400, 404, 413, 422),
        route_path="/internal/conversation/{conversation_id:path}/add",
    ),
    Endpoint(
        "GET",
        "/api/v1/conversation/{conversation_id}/get",
        get_conversation,
        "An agent's conversation history, oldest first",
        "Agent state",
        query=ConversationQuery,
        response=ConversationResponse,
        errors=(400, 404, 422),
        route_path="/api/v1/conversation/{conversation_id:path}/get",
    ),
]
