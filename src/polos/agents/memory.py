"""Conversation memory per ``session_id``, kept in the durable event log.

Each run appends the messages it added (and its token usage) as one event
on the session's topic. When the conversation since the last compaction
grows past ``max_messages``, the older part is summarised by the model and a
``compaction`` event records the summary plus the recent messages kept
verbatim; loading starts from the latest compaction. Both writes are durable
steps of the run, so a crash neither loses nor duplicates them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..store import Store
from .providers.types import Message, Usage

MESSAGES = "messages"
COMPACTION = "compaction"


class MemoryConfig(BaseModel):
    #: Compact once the conversation since the last compaction exceeds this many messages.
    max_messages: int = 40
    #: How many of the latest messages survive a compaction verbatim.
    keep_recent: int = 10


class SessionMemory(BaseModel):
    messages: list[Message] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    #: Messages since the last compaction (what counts toward ``max_messages``).
    since_compaction: int = 0


def session_topic(session_id: str) -> str:
    return f"polos.session/{session_id}"


async def load_session(store: Store, session_id: str) -> SessionMemory:
    from .. import serialization

    memory = SessionMemory()
    after = 0
    while True:
        rows = await store.read_events(session_topic(session_id), after, 500)
        for row in rows:
            after = row.seq
            data: dict[str, Any] = serialization.loads(row.data, strict=False)
            if row.event_type == COMPACTION:
                summary = Message.system(f"Summary of the conversation so far: {data['summary']}")
                memory.messages = [summary, *[Message.model_validate(m) for m in data["kept"]]]
                memory.since_compaction = len(data["kept"])
            else:
                new = [Message.model_validate(m) for m in data["messages"]]
                memory.messages += new
                memory.since_compaction += len(new)
            if "usage" in data:
                memory.usage = memory.usage + Usage.model_validate(data["usage"])
        if len(rows) < 500:
            return memory


def summary_prompt(messages: list[Message]) -> list[Message]:
    transcript = "\n".join(f"{m.role}: {m.content or _describe(m)}" for m in messages)
    return [
        Message.system(
            "Summarise this conversation for your own later use: keep facts, decisions, names, "
            "numbers and open questions; drop pleasantries. Answer with the summary only."
        ),
        Message.user(transcript),
    ]


def _describe(message: Message) -> str:
    if message.tool_calls:
        return "called " + ", ".join(f"{c.name}({c.raw_arguments})" for c in message.tool_calls)
    return "; ".join(r.content for r in message.tool_results)
