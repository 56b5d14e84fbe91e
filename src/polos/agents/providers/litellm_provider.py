"""Every other provider (Gemini, Groq, Mistral, Bedrock, Ollama...) through LiteLLM.

LiteLLM speaks the Chat Completions format for all of them, so requests and
answers go through the same code as the OpenAI Chat adapter.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Any

from ._chat_format import ChatStreamAccumulator, chat_params, chat_response
from ._sdk_errors import translated
from .base import request_model
from .retry import RetryPolicy, call_with_retries, stream_with_retries
from .types import LLMRequest, LLMResponse, StreamChunk


def import_litellm() -> Any:
    """Import LiteLLM without letting it reach the network.

    By default LiteLLM downloads its model price list when imported; the copy
    bundled with the package is enough here, and tests must stay offline. A
    user who wants the remote list can still set the variable to ``False``.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    litellm: Any = importlib.import_module("litellm")
    litellm.suppress_debug_info = True  # no "Give Feedback" banners on every error
    return litellm


class LiteLLMProvider:
    """``litellm.acompletion`` for a model named the LiteLLM way (``gemini/...``)."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        name: str = "litellm",
    ) -> None:
        self._model = model
        self._name = name
        self._retry = retry or RetryPolicy()
        self._litellm = import_litellm()
        # Retries disabled at both of LiteLLM's levels (its own loop and the
        # SDK clients it drives): our RetryPolicy is the only one.
        self._options: dict[str, Any] = {"num_retries": 0, "max_retries": 0}
        if api_key is not None:
            self._options["api_key"] = api_key
        if base_url is not None:
            self._options["api_base"] = base_url
        if timeout is not None:
            self._options["timeout"] = timeout

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        model = request_model(request, self._model)
        params = {**self._params(request, model), **self._options}

        async def attempt() -> LLMResponse:
            with self._errors(model):
                response = await self._litellm.acompletion(**params)
            return chat_response(response, model)

        return await call_with_retries(attempt, self._retry)

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk | LLMResponse]:
        model = request_model(request, self._model)
        params = {**self._params(request, model), **self._options}
        params.update(stream=True, stream_options={"include_usage": True})

        async def attempt() -> AsyncIterator[StreamChunk | LLMResponse]:
            accumulator = ChatStreamAccumulator(model=model)
            with self._errors(model):
                chunks = await self._litellm.acompletion(**params)
                async for chunk in chunks:
                    text = accumulator.add(chunk)
                    if text:
                        yield StreamChunk(text=text)
            yield accumulator.response()

        return stream_with_retries(attempt, self._retry)

    async def aclose(self) -> None:
        """Nothing to close: LiteLLM manages its own connection pools."""

    def _params(self, request: LLMRequest, model: str) -> dict[str, Any]:
        # LiteLLM maps max_tokens to each provider's own parameter.
        return chat_params(request, model, max_tokens_param="max_tokens")

    def _errors(self, model: str) -> AbstractContextManager[None]:
        import openai  # LiteLLM's exceptions subclass these

        return translated(
            provider=self._name, model=model, connection_errors=(openai.APIConnectionError,)
        )
