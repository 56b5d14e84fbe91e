"""Anthropic Messages, through the official ``anthropic`` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._http_pools import anthropic_http_client
from ._sdk_errors import translated
from ._untyped_body import json_body, post, raw
from ._wire_cache import wire_items
from ._wire_log import wire_messages
from .base import PerLoopClient, request_model
from .retry import RetryPolicy, call_with_retries, stream_with_retries
from .types import FinishReason, LLMRequest, LLMResponse, Message, StreamChunk, ToolCall, Usage

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

_PATH = "/v1/messages"

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""Anthropic requires a limit on every call; this one suits every current model."""

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


class AnthropicProvider:
    """``POST /v1/messages`` on Anthropic (or a server speaking its format)."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        default_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        name: str = "anthropic",
    ) -> None:
        self._model = model
        self._name = name
        self._retry = retry or RetryPolicy()
        self._default_max_output_tokens = default_max_output_tokens

        def new_client() -> AsyncAnthropic:
            from anthropic import AsyncAnthropic  # imported late: `import polos` stays light

            options: dict[str, Any] = {"api_key": api_key, "base_url": base_url}
            http_client = anthropic_http_client()  # aiohttp when installed: see _http_pools
            if http_client is not None:
                options["http_client"] = http_client
            if timeout is not None:
                options["timeout"] = timeout
            # max_retries=0: our RetryPolicy is the only retry loop (see retry.py).
            return AsyncAnthropic(max_retries=0, **options)

        async def close(client: AsyncAnthropic) -> None:
            await client.close()

        self._clients = PerLoopClient(new_client, close)

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        model = request_model(request, self._model)
        params = self._params(request, model)
        body = json_body(params)

        async def attempt() -> LLMResponse:
            with self._errors(model):
                client = self._clients.get()
                _refuse_long_unstreamed(client, params["max_tokens"], model)
                message = await post(client, _PATH, body)
            return _llm_response(message, model)

        return await call_with_retries(attempt, self._retry)

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk | LLMResponse]:
        model = request_model(request, self._model)
        body = json_body({**self._params(request, model), "stream": True})

        async def attempt() -> AsyncIterator[StreamChunk | LLMResponse]:
            from anthropic import AsyncStream
            from anthropic.lib.streaming import AsyncMessageStreamManager
            from anthropic.types import Message as AnthropicMessage
            from anthropic.types import RawMessageStreamEvent

            with self._errors(model):
                # What messages.stream() sends, with a body we encode (see
                # _untyped_body); the SDK's stream helper assembles the final
                # message from the events, as it does there.
                opened = self._clients.get().post(
                    _PATH,
                    cast_to=AnthropicMessage,
                    content=body,
                    stream=True,
                    stream_cls=AsyncStream[RawMessageStreamEvent],
                )
                async with AsyncMessageStreamManager(opened) as events:
                    async for event in events:
                        if event.type == "text" and event.text:
                            yield StreamChunk(text=event.text)
                    message = await events.get_final_message()
            yield _llm_response(message, model)

        return stream_with_retries(attempt, self._retry)

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _errors(self, model: str) -> AbstractContextManager[None]:
        import anthropic

        return translated(
            provider=self._name, model=model, connection_errors=(anthropic.APIConnectionError,)
        )

    def _params(self, request: LLMRequest, model: str) -> dict[str, Any]:
        messages, state = wire_messages(request, "anthropic", _extend)
        system = "\n\n".join(state.system) if state is not None else ""
        params: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": request.max_output_tokens or self._default_max_output_tokens,
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                }
                for tool in request.tools
            ]
        if request.temperature is not None:
            # The SDK no longer lists `temperature` (recent models fix it), yet
            # the API still takes it for the models that allow it.
            params["extra_body"] = {"temperature": request.temperature}
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.extra:
            params["extra_body"] = {**params.get("extra_body", {}), **request.extra}
        if request.response_schema is not None:
            params["output_config"] = {
                "format": {"type": "json_schema", "schema": request.response_schema}
            }
        return params


class _Merging:
    """Where :func:`_extend` left off: the system texts so far, and which item of
    ``out`` is a merged user message built here (``-1``: none)."""

    __slots__ = ("merged_at", "system")

    def __init__(self) -> None:
        self.system: list[str] = []
        self.merged_at = -1


def _extend(out: list[dict[str, Any]], state: _Merging | None, messages: list[Message]) -> _Merging:
    """Messages in Anthropic's shape: no system role, tool results sent by the user.

    Results of parallel calls must all arrive in the one user message that
    follows the assistant's calls, so consecutive tool messages are merged
    (into a new message: each message's own wire form is cached and shared).
    """
    state = state or _Merging()
    for message in messages:
        if message.role == "system":
            state.system.append(message.content)  # sent in the top-level `system` parameter
        for item in wire_items(message, "anthropic", _message_items):
            previous = out[-1] if out else None
            if (
                message.role == "tool"
                and previous is not None
                and previous["role"] == "user"
                and isinstance(previous["content"], list)
            ):
                if state.merged_at != len(out) - 1:
                    previous = {"role": "user", "content": list(previous["content"])}
                    out[-1], state.merged_at = previous, len(out) - 1
                previous["content"].extend(item["content"])
            else:
                out.append(item)
    return state


def _message_items(message: Message) -> list[dict[str, Any]]:
    if message.role == "system":
        return []  # sent in the top-level `system` parameter
    if message.role == "tool":
        blocks = [
            {
                "type": "tool_result",
                "tool_use_id": result.tool_call_id,
                "content": result.content,
                "is_error": result.is_error,
            }
            for result in message.tool_results
        ]
        return [{"role": "user", "content": blocks}]
    if message.role == "assistant" and message.tool_calls:
        content: list[dict[str, Any]] = []
        if message.content:
            content.append({"type": "text", "text": message.content})
        content.extend(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            for call in message.tool_calls
        )
        return [{"role": "assistant", "content": content}]
    return [{"role": message.role, "content": message.content}]


def _refuse_long_unstreamed(client: Any, max_tokens: int, model: str) -> None:
    """What ``messages.create`` checks first: with the client's default timeout,
    it refuses a non-streamed request that may outlast ten minutes (a ValueError
    that says to stream), rather than let it time out."""
    try:
        from anthropic._constants import DEFAULT_TIMEOUT, MODEL_NONSTREAMING_TOKENS

        check = client._calculate_nonstreaming_timeout
    except (ImportError, AttributeError):  # pragma: no cover - an SDK without the check
        return
    if client.timeout == DEFAULT_TIMEOUT:
        check(max_tokens, MODEL_NONSTREAMING_TOKENS.get(model))


def _llm_response(message: Any, model: str) -> LLMResponse:
    """The answer, from the SDK's ``Message`` (streamed) or its JSON read by
    attribute (``post``: the same field names)."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall.from_raw(block.id, block.name, json.dumps(raw(block.input))))
    usage = message.usage
    # Anthropic counts cached prompt tokens apart; adding them back makes
    # input_tokens mean the same as OpenAI's prompt tokens.
    input_tokens = (
        usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )
    return LLMResponse(
        text="".join(texts),
        tool_calls=calls,
        usage=Usage.of(input_tokens, usage.output_tokens).model_copy(
            update={
                "cache_read_input_tokens": usage.cache_read_input_tokens or None,
                "cache_creation_input_tokens": usage.cache_creation_input_tokens or None,
            }
        ),
        finish_reason=_STOP_REASONS.get(message.stop_reason or "end_turn", "other"),
        model=message.model or model,
        id=message.id,
    )
