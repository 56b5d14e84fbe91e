"""A fake Anthropic-compatible server: ``/v1/messages``, streamed or not.

Point the real ``anthropic`` SDK at ``server.base_url`` (no ``/v1``: the SDK
adds it) and it gets the scripted turns in the shapes it parses, including
the named Server-Sent Events it requires when streaming.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ._server import FakeServer, json_response, sse_event
from .script import RecordedRequest, Turn, split_in_two

Json = dict[str, Any]  # payloads built here and serialised at once

_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropicServer(FakeServer):
    """Serves ``/v1/messages``.

    >>> with FakeAnthropicServer([Turn.reply("Hello!")]) as server:
    ...     client = AsyncAnthropic(base_url=server.base_url, api_key="test")
    """

    server_name = "FakeAnthropicServer"

    @property
    def base_url(self) -> str:
        """The URL to give the SDK, which appends ``/v1/messages`` itself."""
        return self.url

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/v1/messages", self._messages, methods=["POST"])]

    def error_response(self, status: int, message: str, headers: Mapping[str, str]) -> Response:
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return JSONResponse(body, status_code=status, headers=dict(headers))

    async def _messages(self, request: Request) -> Response:
        recorded, turn = await self.take_turn(request)
        if isinstance(turn, Response):
            return turn
        message_id = self.new_id("msg_fake_")
        calls = [
            {
                "id": call.id or self.new_id("toolu_fake_"),
                "name": call.name,
                "input": dict(call.arguments),
            }
            for call in turn.tool_calls
        ]
        if recorded.stream:
            return StreamingResponse(
                _events(turn, recorded, message_id, calls),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        content: list[Json] = [{"type": "text", "text": turn.text}] if turn.text else []
        content += [{"type": "tool_use", **call} for call in calls]
        return json_response(
            _message(
                turn, recorded, message_id, content, _STOP_REASONS[turn.effective_finish_reason]
            )
        )


def _message(
    turn: Turn,
    recorded: RecordedRequest,
    message_id: str,
    content: list[Json],
    stop_reason: str | None,
    output_tokens: int | None = None,
) -> Json:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": recorded.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": turn.input_tokens,
            "output_tokens": turn.output_tokens if output_tokens is None else output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


async def _events(
    turn: Turn, recorded: RecordedRequest, message_id: str, calls: list[Json]
) -> AsyncIterator[bytes]:
    def event(kind: str, payload: Json) -> bytes:
        # The SDK skips events without an `event:` line, so it is always set.
        return sse_event({"type": kind, **payload}, event=kind)

    # Like Anthropic: the opening message reports the input tokens and one
    # output token; message_delta carries the final output count.
    start = _message(turn, recorded, message_id, [], None, output_tokens=1)
    yield event("message_start", {"message": start})
    yield event("ping", {})
    index = 0
    if turn.text:
        yield event(
            "content_block_start",
            {"index": index, "content_block": {"type": "text", "text": ""}},
        )
        for piece in turn.text_chunks():
            if turn.chunk_delay:
                await asyncio.sleep(turn.chunk_delay)
            yield event(
                "content_block_delta",
                {"index": index, "delta": {"type": "text_delta", "text": piece}},
            )
        yield event("content_block_stop", {"index": index})
        index += 1
    for call in calls:
        block = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        yield event("content_block_start", {"index": index, "content_block": block})
        for piece in split_in_two(json.dumps(call["input"])):
            yield event(
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
        yield event("content_block_stop", {"index": index})
        index += 1
    yield event(
        "message_delta",
        {
            "delta": {
                "stop_reason": _STOP_REASONS[turn.effective_finish_reason],
                "stop_sequence": None,
            },
            "usage": {"output_tokens": turn.output_tokens},
        },
    )
    yield event("message_stop", {})
