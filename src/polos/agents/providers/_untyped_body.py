"""Send the conversation past the openai SDK's per-field type walk.

Before sending, the openai SDK walks every request body against its
TypedDict annotations, to rename aliased keys and format dates or files. No
field of the conversations we send (chat messages, Responses input items)
has an alias or a format, so the walk hands the body back unchanged, yet it
costs tens of microseconds per node: a 200-message conversation paid
~150 ms per model call, which made an agent's N tool calls cost O(N^2). The
SDK merges ``extra_body`` into the JSON body after the walk, as it is, so
the conversation travels there; an empty list stands in where the method's
signature requires the argument. (The anthropic SDK sends its body as given.)
"""

from __future__ import annotations

from typing import Any


def conversation_untyped(params: dict[str, Any], key: str, *, required: bool) -> dict[str, Any]:
    """``params`` with ``params[key]`` moved into ``extra_body`` (whose own
    entries still win, as the SDK's merge would have them)."""
    if key not in params:
        return params
    moved = dict(params)
    conversation = moved.pop(key)
    if required:
        moved[key] = []  # the placeholder the signature wants; extra_body replaces it
    moved["extra_body"] = {key: conversation, **(moved.get("extra_body") or {})}
    return moved
