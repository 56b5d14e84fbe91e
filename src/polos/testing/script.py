"""Scripted turns for the fake LLM servers, and the requests they record.

A script is a list of turns replayed in order, one per request: a text
answer, tool calls, or an HTTP error. A turn may also be a function of the
request, for answers that depend on what the client sent.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import JsonValue

FinishReason = Literal["stop", "tool_calls", "length", "content_filter"]


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call the fake model makes; ``id`` is generated when left out."""

    name: str
    arguments: Mapping[str, JsonValue] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Turn:
    """One scripted answer of the fake model.

    ``chunks`` sets how ``text`` is streamed (by default word by word, spaces
    kept); ``chunk_delay`` spaces the chunks out in seconds. A ``status``
    other than 200 answers with that HTTP error instead, with ``headers``
    (``Turn.error(429, retry_after=2)`` sets Retry-After).
    """

    text: str = ""
    tool_calls: tuple[FakeToolCall, ...] = ()
    input_tokens: int = 10
    output_tokens: int = 20
    finish_reason: FinishReason | None = None
    """Derived when unset: ``tool_calls`` if there are any, else ``stop``."""
    chunks: tuple[str, ...] | None = None
    chunk_delay: float = 0.0
    status: int = 200
    error_message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def reply(cls, text: str, *, input_tokens: int = 10, output_tokens: int = 20) -> Turn:
        """A plain text answer."""
        return cls(text=text, input_tokens=input_tokens, output_tokens=output_tokens)

    @classmethod
    def call(
        cls, name: str, arguments: Mapping[str, JsonValue] | None = None, *, id: str | None = None
    ) -> Turn:
        """An answer made of one tool call."""
        return cls(tool_calls=(FakeToolCall(name, dict(arguments or {}), id),))

    @classmethod
    def calls(cls, *calls: FakeToolCall, text: str = "") -> Turn:
        """An answer made of several tool calls at once (parallel calls)."""
        return cls(text=text, tool_calls=calls)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        *,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Turn:
        """An HTTP error: 429 or 5xx to exercise retries, 4xx to exercise failures."""
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["retry-after"] = f"{retry_after:g}"
        return cls(
            status=status,
            error_message=message or f"scripted error {status}",
            headers=all_headers,
        )

    @property
    def is_error(self) -> bool:
        return self.status >= 400

    @property
    def effective_finish_reason(self) -> FinishReason:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def text_chunks(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        # Each word with the whitespace after it, so that joining gives the text.
        return re.findall(r"\s*\S+\s*", self.text) or ([self.text] if self.text else [])


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake server received."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, JsonValue]
    """The parsed JSON body (empty for requests without one)."""

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def model(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) else ""


TurnSource = Turn | Callable[[RecordedRequest], Turn]
"""A scripted turn, or a function choosing the turn from the request."""


class Script:
    """The turns still to be served, shared safely with the server's thread."""

    def __init__(self, turns: Iterable[TurnSource] = ()) -> None:
        self._turns: deque[TurnSource] = deque(turns)
        self._lock = threading.Lock()
        self.served = 0

    def add(self, *turns: TurnSource) -> None:
        with self._lock:
            self._turns.extend(turns)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._turns)

    def next_source(self) -> TurnSource | None:
        with self._lock:
            if not self._turns:
                return None
            self.served += 1
            return self._turns.popleft()


def split_in_two(text: str) -> list[str]:
    """Two pieces of ``text`` (for streaming tool arguments in several deltas)."""
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]
