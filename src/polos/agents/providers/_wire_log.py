"""A conversation's wire form, per format, extended by what was appended since the last call.

The per-message cache (:mod:`._wire_cache`) spares converting a message
twice, but each call still walked every message of the conversation to look
its form up: O(N) Python work per call, O(N^2) per N-turn agent run (at 400
messages, about 1 ms a call on this machine). The agent loop only ever
appends to its conversation, so it keeps one :class:`WireLog` per run and
hands it to the provider with each request: the provider then converts only
the messages added since the previous call.

A request whose messages do not begin with the ones the log saw (a hook
replaced the conversation) starts the log over. A message must not be
changed in place once sent through a log; the loop never does (it builds new
messages). Requests without a log (direct provider calls) walk every message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .types import LLMRequest, Message

#: ``extend(out, state, messages)`` appends the wire items of ``messages`` to
#: ``out`` and returns the format's new state (``None`` at the start).
Extend = Callable[[list[dict[str, Any]], Any, list[Message]], Any]


class _FormatLog:
    __slots__ = ("encoded", "encoded_items", "out", "seen", "state")

    def __init__(self) -> None:
        self.seen: list[Message] = []
        self.out: list[dict[str, Any]] = []
        self.state: Any = None
        #: ``out[:encoded_items]`` as JSON array elements, comma-separated.
        self.encoded = bytearray()
        self.encoded_items = 0

    def fragment(self) -> orjson.Fragment:
        """``out`` as one JSON array, encoding only the items added since last time.

        For formats whose items never change once added (not Anthropic's,
        which merges tool results into the item before)."""
        for item in self.out[self.encoded_items :]:
            if self.encoded:
                self.encoded += b","
            self.encoded += orjson.dumps(item)
        self.encoded_items = len(self.out)
        return orjson.Fragment(b"[" + self.encoded + b"]")


class WireLog:
    """One append-only conversation's wire items, per wire format."""

    def __init__(self) -> None:
        self._formats: dict[str, _FormatLog] = {}

    def items(
        self, messages: list[Message], fmt: str, extend: Extend
    ) -> tuple[list[dict[str, Any]], Any]:
        """``messages``'s wire items in format ``fmt`` (a new list) and the format's state."""
        log = self._formats.get(fmt)
        if log is None:
            log = self._formats[fmt] = _FormatLog()
        seen = len(log.seen)
        # A C-level comparison (identity first, element by element): microseconds
        # even at thousands of messages, where a Python walk took a millisecond.
        if len(messages) < seen or messages[:seen] != log.seen:
            log = self._formats[fmt] = _FormatLog()
            seen = 0
        if len(messages) > seen:
            added = messages[seen:]
            log.state = extend(log.out, log.state, added)
            log.seen += added
        return list(log.out), log.state

    def fragment(self, fmt: str) -> orjson.Fragment:
        """The items :meth:`items` last gave for ``fmt``, as pre-encoded JSON."""
        return self._formats[fmt].fragment()


def attach(request: LLMRequest, log: WireLog) -> None:
    """Send ``request`` through ``log``: its messages extend the ones sent before."""
    request._wire_log = log


def wire_messages(
    request: LLMRequest, fmt: str, extend: Extend
) -> tuple[list[dict[str, Any]], Any]:
    """The request's messages in format ``fmt``, through its log if it has one."""
    log: WireLog | None = request._wire_log
    if log is None:
        out: list[dict[str, Any]] = []
        return out, extend(out, None, request.messages)
    return log.items(request.messages, fmt, extend)


def wire_json(request: LLMRequest, fmt: str, items: list[dict[str, Any]]) -> Any:
    """What to put in the body for ``items`` (the request's messages, just converted
    by :func:`wire_messages`): with a log, the array as JSON already encoded, extended
    by the new items only (encoding 2,000 messages again took about a millisecond
    per call); without one, ``items``."""
    log: WireLog | None = request._wire_log
    return items if log is None else log.fragment(fmt)
