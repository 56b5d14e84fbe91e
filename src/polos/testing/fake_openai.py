"""A fake OpenAI-compatible server: Chat Completions and Responses, streamed or not.

Point the real ``openai`` SDK (or LiteLLM, or anything OpenAI-compatible) at
``server.base_url`` and it gets the scripted turns, in the exact JSON and
Server-Sent Events shapes the SDK parses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import JsonValue
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ._server import FakeServer, json_response, sse_event
from .script import RecordedRequest, Turn, split_in_two

Json = dict[str, Any]  # payloads built here and serialised at once

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


class FakeOpenAIServer(FakeServer):
    """Serves ``/v1/chat/completions``, ``/v1/responses`` and ``/v1/models``.

    >>> with FakeOpenAIServer([Turn.reply("Hello!")]) as server:
    ...     client = AsyncOpenAI(base_url=server.base_url, api_key="test")
    """

    server_name = "FakeOpenAIServer"

    @property
    def base_url(self) -> str:
        """The URL to give the SDK (it ends in ``/v1``, as OpenAI's does)."""
        return f"{self.url}/v1"

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/responses", self._responses, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    def error_response(self, status: int, message: str, headers: Mapping[str, str]) -> Response:
        kind = _ERROR_TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        return JSONResponse(body, status_code=status, headers=dict(headers))

    async def _models(self, request: Request) -> Response:
        return json_response({"object": "list", "data": [_model_entry("fake-model")]})

    # -- Chat Completions ---------------------------------------------------

    async def _chat(self, request: Request) -> Response:
        recorded, turn = await self.take_turn(request)
        if isinstance(turn, Response):
            return turn
        completion_id = self.new_id("chatcmpl-fake-")
        calls = [
            {
                "id": call.id or self.new_id("call_fake_"),
                "name": call.name,
                "arguments": json.dumps(dict(call.arguments)),
            }
            for call in turn.tool_calls
        ]
        if recorded.stream:
            return _sse_response(_chat_chunks(turn, recorded, completion_id, calls))
        message: Json = {"role": "assistant", "content": turn.text or None, "refusal": None}
        if calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ]
        return json_response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": recorded.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": turn.effective_finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": _chat_usage(turn),
            }
        )

    # -- Responses ----------------------------------------------------------

    async def _responses(self, request: Request) -> Response:
        recorded, turn = await self.take_turn(request)
        if isinstance(turn, Response):
            return turn
        response_id = self.new_id("resp_fake_")
        items = _ResponseItems(self, turn)
        if recorded.stream:
            return _sse_response(_response_events(turn, recorded, response_id, items))
        return json_response(_response_object(turn, recorded, response_id, items.done()))


def _chat_usage(turn: Turn) -> Json:
    return {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
    }


async def _chat_chunks(
    turn: Turn, recorded: RecordedRequest, completion_id: str, calls: list[Json]
) -> AsyncIterator[bytes]:
    created = int(time.time())

    def chunk(delta: Json, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse_event(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": recorded.model,
                "choices": [choice],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    for piece in turn.text_chunks():
        await _pause(turn)
        yield chunk({"content": piece})
    # Each call opens with its id and name, then its arguments arrive in pieces,
    # the way OpenAI streams them; clients must join them by index.
    for index, call in enumerate(calls):
        head = {"index": index, "id": call["id"], "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": call["name"], "arguments": ""}}]})
        for piece in split_in_two(call["arguments"]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, turn.effective_finish_reason)
    options = recorded.body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        yield sse_event(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": recorded.model,
                "choices": [],
                "usage": _chat_usage(turn),
            }
        )
    yield sse_event("[DONE]")


class _ResponseItems:
    """The output items of one Responses answer, with their generated ids."""

    def __init__(self, server: FakeServer, turn: Turn) -> None:
        self.message_id = server.new_id("msg_fake_") if turn.text else None
        self.text = turn.text
        self.calls = [
            {
                "id": server.new_id("fc_fake_"),
                "call_id": call.id or server.new_id("call_fake_"),
                "name": call.name,
                "arguments": json.dumps(dict(call.arguments)),
            }
            for call in turn.tool_calls
        ]

    def message(self, text: str, status: str) -> Json:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content if status == "completed" else [],
        }

    @staticmethod
    def call(call: Json, arguments: str, status: str) -> Json:
        return {"type": "function_call", **call, "arguments": arguments, "status": status}

    def done(self) -> list[Json]:
        items = [self.message(self.text, "completed")] if self.message_id else []
        return items + [self.call(c, c["arguments"], "completed") for c in self.calls]


def _response_object(
    turn: Turn,
    recorded: RecordedRequest,
    response_id: str,
    output: list[Json],
    *,
    final: bool = True,
) -> Json:
    reason = turn.effective_finish_reason
    incomplete = reason in ("length", "content_filter")
    status = ("incomplete" if incomplete else "completed") if final else "in_progress"
    tools: JsonValue = recorded.body.get("tools")
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": recorded.model,
        "output": output,
        "error": None,
        "incomplete_details": (
            {"reason": "max_output_tokens" if reason == "length" else "content_filter"}
            if final and incomplete
            else None
        ),
        "instructions": recorded.body.get("instructions"),
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": recorded.body.get("temperature"),
        "top_p": None,
        "tool_choice": "auto",
        "tools": tools if isinstance(tools, list) else [],
        "text": {"format": {"type": "text"}},
        "usage": (
            {
                "input_tokens": turn.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": turn.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": turn.input_tokens + turn.output_tokens,
            }
            if final
            else None
        ),
    }


async def _response_events(
    turn: Turn, recorded: RecordedRequest, response_id: str, items: _ResponseItems
) -> AsyncIterator[bytes]:
    sequence = 0

    def event(kind: str, payload: Json) -> bytes:
        nonlocal sequence
        sequence += 1
        return sse_event({"type": kind, "sequence_number": sequence - 1, **payload}, event=kind)

    started = _response_object(turn, recorded, response_id, [], final=False)
    yield event("response.created", {"response": started})
    yield event("response.in_progress", {"response": started})
    index = 0
    if items.message_id:
        at = {"item_id": items.message_id, "output_index": index, "content_index": 0}
        empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event(
            "response.output_item.added",
            {"output_index": index, "item": items.message("", "in_progress")},
        )
        yield event("response.content_part.added", {**at, "part": empty_part})
        for piece in turn.text_chunks():
            await _pause(turn)
            yield event("response.output_text.delta", {**at, "delta": piece, "logprobs": []})
        yield event("response.output_text.done", {**at, "text": items.text, "logprobs": []})
        yield event(
            "response.content_part.done", {**at, "part": {**empty_part, "text": items.text}}
        )
        yield event(
            "response.output_item.done",
            {"output_index": index, "item": items.message(items.text, "completed")},
        )
        index += 1
    for call in items.calls:
        at = {"item_id": call["id"], "output_index": index}
        yield event(
            "response.output_item.added",
            {"output_index": index, "item": items.call(call, "", "in_progress")},
        )
        for piece in split_in_two(call["arguments"]):
            yield event("response.function_call_arguments.delta", {**at, "delta": piece})
        yield event(
            "response.function_call_arguments.done",
            {**at, "name": call["name"], "arguments": call["arguments"]},
        )
        yield event(
            "response.output_item.done",
            {"output_index": index, "item": items.call(call, call["arguments"], "completed")},
        )
        index += 1
    final = _response_object(turn, recorded, response_id, items.done())
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    yield event(kind, {"response": final})


def _sse_response(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


async def _pause(turn: Turn) -> None:
    if turn.chunk_delay:
        await asyncio.sleep(turn.chunk_delay)


def _model_entry(model: str) -> Json:
    return {"id": model, "object": "model", "created": 0, "owned_by": "polos-testing"}
