"""Each message's wire form, built once per format instead of once per call.

A chat API is stateless: every call sends the whole conversation, so an
agent's N-th model call converts N messages that did not change since the
previous call. Converting them again each time made the client's share of an
N-turn run O(N^2) (at 2,000 messages, ~6 ms per call on this machine).

The wire form is kept in the message's own ``__dict__`` under a key that is
not a field: pydantic ignores such entries when dumping, validating and
comparing, and a copy carries it along. It is used only while the fields it
was built from are the same objects with the same lengths, so reassigning a
field or appending to ``tool_calls`` / ``tool_results`` rebuilds it; editing
a tool call *inside* a message that was already sent does not (build a new
message instead). Callers must not mutate what they get back: it is shared
by every later call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .types import Message

_KEY = "_polos_wire"

WireItems = tuple[dict[str, Any], ...]


def _token(message: Message) -> tuple[Any, ...]:
    calls, results = message.tool_calls, message.tool_results
    return (message.role, message.content, calls, len(calls), results, len(results))


def wire_items(
    message: Message, fmt: str, convert: Callable[[Message], Iterable[dict[str, Any]]]
) -> WireItems:
    """``convert(message)`` for format ``fmt``, from the message's cache when still valid."""
    cache: dict[str, tuple[tuple[Any, ...], WireItems]] | None = message.__dict__.get(_KEY)
    token = _token(message)
    if cache is not None:
        hit = cache.get(fmt)
        if hit is not None and hit[0] == token:
            return hit[1]
    else:
        cache = {}
        message.__dict__[_KEY] = cache
    items = tuple(convert(message))
    cache[fmt] = (token, items)
    return items
