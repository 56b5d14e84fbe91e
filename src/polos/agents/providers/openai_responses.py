"""The OpenAI Responses API, through the official ``openai`` SDK.

OpenAI's recommended endpoint for its own models. Conversations are sent in
full on every call (``store=False``, no ``previous_response_id``): the durable
engine already keeps the history, and a replayed step must not depend on
state held by OpenAI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ._openai_common import openai_clients, openai_errors
from ._untyped_body import json_body, post, post_stream
from ._wire_cache import wire_items
from ._wire_log import wire_json, wire_messages
from .base import request_model
from .errors import ProviderError, ProviderRejectedError, ProviderUnavailableError
from .retry import RetryPolicy, call_with_retries, stream_with_retries
from .types import FinishReason, LLMRequest, LLMResponse, Message, StreamChunk, ToolCall, Usage

if TYPE_CHECKING:
    from openai.types.responses import Response

# Failure codes of a streamed response that a later attempt may not meet.
_TRANSIENT_CODES = frozenset({"server_error", "rate_limit_exceeded", "vector_store_timeout"})
_PATH = "/responses"


class OpenAIResponsesProvider:
    """``POST /responses`` on OpenAI (or a server implementing it)."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        name: str = "openai-responses",
    ) -> None:
        self._model = model
        self._name = name
        self._retry = retry or RetryPolicy()
        self._clients = openai_clients(api_key, base_url, timeout)

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        model = request_model(request, self._model)
        body = json_body(_params(request, model))

        async def attempt() -> LLMResponse:
            with openai_errors(self._name, model):
                response = await post(self._clients.get(), _PATH, body)
            return _llm_response(response, model)

        return await call_with_retries(attempt, self._retry)

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk | LLMResponse]:
        model = request_model(request, self._model)
        body = json_body({**_params(request, model), "stream": True})

        async def attempt() -> AsyncIterator[StreamChunk | LLMResponse]:
            from openai import AsyncStream
            from openai.types.responses import Response, ResponseStreamEvent

            final: LLMResponse | None = None
            with openai_errors(self._name, model):
                client = self._clients.get()
                events = await post_stream(
                    client, _PATH, body, Response, AsyncStream[ResponseStreamEvent]
                )
                async with events:
                    async for event in events:
                        if event.type == "response.output_text.delta":
                            yield StreamChunk(text=event.delta)
                        elif event.type in ("response.completed", "response.incomplete"):
                            final = _llm_response(event.response, model)
                        elif event.type == "response.failed":
                            raise self._failure(event.response, model)
                        elif event.type == "error":
                            raise ProviderUnavailableError(
                                f"stream error {event.code}: {event.message}",
                                provider=self._name,
                                model=model,
                            )
            if final is None:
                raise ProviderUnavailableError(
                    "the stream ended before response.completed",
                    provider=self._name,
                    model=model,
                )
            yield final

        return stream_with_retries(attempt, self._retry)

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _failure(self, response: Response, model: str) -> ProviderError:
        code = response.error.code if response.error else "unknown"
        message = response.error.message if response.error else "response failed"
        kind = ProviderUnavailableError if code in _TRANSIENT_CODES else ProviderRejectedError
        return kind(f"{code}: {message}", provider=self._name, model=model)


def _params(request: LLMRequest, model: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": model,
        "input": wire_json(
            request, "responses", wire_messages(request, "responses", _extend_input)[0]
        ),
        "store": False,
    }
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
                # strict mode rejects ordinary schemas (optional fields...)
                "strict": False,
            }
            for tool in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_output_tokens is not None:
        params["max_output_tokens"] = request.max_output_tokens
    if request.top_p is not None:
        params["top_p"] = request.top_p
    if request.extra:
        params["extra_body"] = dict(request.extra)
    if request.response_schema is not None:
        params["text"] = {
            "format": {
                "type": "json_schema",
                "name": request.response_schema_name,
                "schema": request.response_schema,
                "strict": False,
            }
        }
    return params


def _extend_input(items: list[dict[str, Any]], state: None, messages: list[Message]) -> None:
    """Messages as Responses input items: tool calls and results are items of their own."""
    for message in messages:
        items.extend(wire_items(message, "responses", _message_items))


def _message_items(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {"type": "function_call_output", "call_id": r.tool_call_id, "output": r.content}
            for r in message.tool_results
        ]
    items: list[dict[str, Any]] = []
    if message.content or not message.tool_calls:
        items.append({"role": message.role, "content": message.content})
    items.extend(
        {
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.raw_arguments,
        }
        for call in message.tool_calls
    )
    return items


def _llm_response(response: Response, model: str) -> LLMResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    refused = False
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "output_text":
                    texts.append(part.text)
                else:
                    refused = True
        elif item.type == "function_call":
            calls.append(ToolCall.from_raw(item.call_id, item.name, item.arguments))
    usage = response.usage
    return LLMResponse(
        text="".join(texts),
        tool_calls=calls,
        usage=(
            Usage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                total_tokens=usage.total_tokens,
            )
            if usage
            else Usage()
        ),
        finish_reason=_finish_reason(response, has_calls=bool(calls), refused=refused),
        model=response.model or model,
        id=response.id,
    )


def _finish_reason(response: Response, *, has_calls: bool, refused: bool) -> FinishReason:
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        return "content_filter" if reason == "content_filter" else "length"
    if refused:
        return "content_filter"
    return "tool_calls" if has_calls else "stop"
