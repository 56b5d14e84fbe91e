"""Conversation memory per ``session_id``, kept in the durable event log.

Each run appends the messages it added (and its token usage) as one event
on the session's topic. When the conversation since the last compaction
grows past ``max_messages``, the older part is summarised by the model and a
``compaction`` event records the summary plus the recent messages kept
verbatim; loading starts from the latest compaction. Both writes are durable
steps of the run, so a crash neither loses nor duplicates them.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from ..store import Store
from .providers.types import Message, Usage

MESSAGES = "messages"
COMPACTION = "compaction"


class MemoryConfig(BaseModel):
    """When a session's conversation is compacted, and what survives it."""

    #: Compact once the conversation since the last compaction exceeds this many
    #: messages (``None``: no limit on the count).
    max_messages: int | None = 40
    #: ... or once it is estimated at more than this many tokens (about 4
    #: characters a token; ``None``: no limit).
    max_conversation_tokens: int | None = 80_000
    #: How many of the latest messages survive a compaction verbatim.
    keep_recent: int = 10
    #: The longest summary asked of the model, in tokens.
    max_summary_tokens: int = 20_000
    #: ``False`` keeps the whole conversation, however long.
    enabled: bool = True

    def needs_compaction(self, since_compaction: list[Message]) -> bool:
        if not self.enabled:
            return False
        if self.max_messages is not None and len(since_compaction) > self.max_messages:
            return True
        return (
            self.max_conversation_tokens is not None
            and estimate_tokens(since_compaction) > self.max_conversation_tokens
        )


class CompactionConfig(BaseModel):
    """Polos's session compaction settings (``Agent(compaction=...)``).

    Compaction is by estimated tokens: past ``max_conversation_tokens``
    (default 80,000) the older messages are summarised (in at most
    ``max_summary_tokens``, default 20,000) and ``min_recent_messages``
    (default 2) are kept verbatim; ``enabled=False`` turns it off.
    """

    max_conversation_tokens: int | None = None
    max_summary_tokens: int | None = None
    min_recent_messages: int | None = None
    enabled: bool | None = None

    def as_memory_config(self) -> MemoryConfig:
        return MemoryConfig(
            max_messages=None,
            max_conversation_tokens=self.max_conversation_tokens or 80_000,
            keep_recent=self.min_recent_messages or 2,
            max_summary_tokens=self.max_summary_tokens or 20_000,
            enabled=self.enabled if self.enabled is not None else True,
        )


def estimate_tokens(messages: list[Message]) -> int:
    """About four characters a token, as Polos estimates."""
    chars = sum(
        len(m.content)
        + sum(len(c.name) + len(c.raw_arguments) for c in m.tool_calls)
        + sum(len(r.content) for r in m.tool_results)
        for m in messages
    )
    return math.ceil(chars / 4)


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
                kept = [Message.model_validate(m) for m in data["kept"]]
                # An SDK agent's stored memory may have no summary yet (server/protocol/state.py).
                summary = data.get("summary")
                memory.messages = (
                    [Message.system(f"Summary of the conversation so far: {summary}"), *kept]
                    if summary
                    else kept
                )
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
