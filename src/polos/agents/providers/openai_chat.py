"""OpenAI Chat Completions, through the official ``openai`` SDK.

Also the adapter for every OpenAI-compatible server (vLLM, Ollama, LM Studio,
llama.cpp...): they implement this endpoint far more often than Responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ._chat_format import ChatStreamAccumulator, chat_params, chat_response
from ._openai_common import openai_clients, openai_errors
from ._untyped_body import json_body, post, post_stream
from ._wire_log import wire_json
from .base import request_model
from .retry import RetryPolicy, call_with_retries, stream_with_retries
from .types import LLMRequest, LLMResponse, StreamChunk

_PATH = "/chat/completions"


class OpenAIChatProvider:
    """``POST /chat/completions`` on OpenAI or any server speaking its format."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        max_tokens_param: str | None = None,
        name: str = "openai-chat",
    ) -> None:
        self._model = model
        self._name = name
        #: Where requests go (``None``: the SDK's default, or ``OPENAI_BASE_URL``).
        self.base_url = base_url
        self._retry = retry or RetryPolicy()
        self._clients = openai_clients(api_key, base_url, timeout)
        # OpenAI itself wants max_completion_tokens (its reasoning models refuse
        # max_tokens); compatible servers mostly know only max_tokens.
        self._max_tokens_param = max_tokens_param or (
            "max_tokens" if base_url else "max_completion_tokens"
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        model = request_model(request, self._model)
        params = chat_params(request, model, max_tokens_param=self._max_tokens_param)
        params["messages"] = wire_json(request, "chat", params["messages"])
        body = json_body(params)

        async def attempt() -> LLMResponse:
            with openai_errors(self._name, model):
                completion = await post(self._clients.get(), _PATH, body)
            return chat_response(completion, model)

        return await call_with_retries(attempt, self._retry)

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk | LLMResponse]:
        model = request_model(request, self._model)
        params = chat_params(request, model, max_tokens_param=self._max_tokens_param)
        # include_usage adds a last chunk carrying the token counts.
        params.update(stream=True, stream_options={"include_usage": True})
        params["messages"] = wire_json(request, "chat", params["messages"])
        body = json_body(params)

        async def attempt() -> AsyncIterator[StreamChunk | LLMResponse]:
            from openai import AsyncStream
            from openai.types.chat import ChatCompletion, ChatCompletionChunk

            accumulator = ChatStreamAccumulator(model=model)
            with openai_errors(self._name, model):
                client = self._clients.get()
                chunks = await post_stream(
                    client, _PATH, body, ChatCompletion, AsyncStream[ChatCompletionChunk]
                )
                async with chunks:
                    async for chunk in chunks:
                        text = accumulator.add(chunk)
                        if text:
                            yield StreamChunk(text=text)
            yield accumulator.response()

        return stream_with_retries(attempt, self._retry)

    async def aclose(self) -> None:
        await self._clients.aclose()
