"""Choosing and configuring a provider from a name, a model and a base URL.

Everything that can be checked without calling the model is checked here
(known provider, installed SDK, API key present), so a misconfigured agent
fails when it is built, before any step runs.

Names:

- ``openai``: the Responses API, or Chat Completions when ``base_url`` is
  set, because OpenAI-compatible servers (vLLM, Ollama, LM Studio) seldom
  implement Responses. ``openai-responses`` and ``openai-chat`` choose
  explicitly.
- ``anthropic``: the Messages API.
- ``litellm``: LiteLLM, with a model named its way (``gemini/gemini-2.0-flash``).
- any other LiteLLM provider name (``gemini``, ``groq``, ``mistral``,
  ``bedrock``, ``ollama``...): LiteLLM with the model prefixed by that name.
"""

from __future__ import annotations

import importlib.util
import os

from .anthropic_messages import AnthropicProvider
from .base import Provider
from .errors import ProviderConfigError
from .litellm_provider import LiteLLMProvider, import_litellm
from .openai_chat import OpenAIChatProvider
from .openai_responses import OpenAIResponsesProvider
from .retry import RetryPolicy

PLACEHOLDER_API_KEY = "not-needed"
"""Sent to servers given by base URL when no key is configured.

The SDKs refuse to start without a key, yet local servers (Ollama, vLLM,
LM Studio) mostly ignore it; a server that does want one answers 401, which
becomes a clear ``ProviderRejectedError``.
"""

_OPENAI_NAMES = ("openai", "openai-chat", "openai-responses")
_OWN_NAMES = (*_OPENAI_NAMES, "anthropic", "litellm")


def get_provider(
    provider: str,
    model: str,
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
) -> Provider:
    """The provider adapter for ``provider`` and ``model``.

    ``api_key`` defaults to the provider's usual environment variable
    (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, or LiteLLM's per provider).
    ``retry`` governs rate limits, 5xx and network errors; ``timeout`` is
    per HTTP request, in seconds.

    Raises ``ProviderConfigError`` for an unknown provider, an empty model
    name, a missing SDK or a missing API key.
    """
    name = provider.strip().lower()
    if not model or not model.strip():
        raise ProviderConfigError(f"no model given for provider {provider!r}: pass model='...'")
    if name in _OPENAI_NAMES:
        _require_sdk("openai", name)
        key = _api_key(api_key, "OPENAI_API_KEY", base_url, name)
        use_chat = name == "openai-chat" or (name == "openai" and base_url is not None)
        if use_chat:
            return OpenAIChatProvider(
                model, api_key=key, base_url=base_url, retry=retry, timeout=timeout
            )
        return OpenAIResponsesProvider(
            model, api_key=key, base_url=base_url, retry=retry, timeout=timeout
        )
    if name == "anthropic":
        _require_sdk("anthropic", name)
        key = _api_key(api_key, "ANTHROPIC_API_KEY", base_url, name)
        return AnthropicProvider(
            model, api_key=key, base_url=base_url, retry=retry, timeout=timeout
        )
    _require_sdk("litellm", name)
    if name == "litellm":
        return _litellm_provider(model, api_key, base_url, retry, timeout)
    litellm = import_litellm()
    if name not in {str(p.value) for p in litellm.provider_list}:
        raise ProviderConfigError(
            f"unknown provider {provider!r}: use one of {', '.join(_OWN_NAMES)}, or a LiteLLM "
            "provider name such as gemini, groq, mistral, bedrock or ollama "
            "(https://docs.litellm.ai/docs/providers)"
        )
    qualified = model if model.startswith(f"{name}/") else f"{name}/{model}"
    return _litellm_provider(qualified, api_key, base_url, retry, timeout)


def _api_key(explicit: str | None, variable: str, base_url: str | None, provider: str) -> str:
    key = explicit or os.environ.get(variable)
    if key:
        return key
    if base_url is not None:
        return PLACEHOLDER_API_KEY
    raise ProviderConfigError(
        f"provider {provider!r} needs an API key: set {variable} in the environment, pass "
        "api_key=..., or set a base URL for a local server that needs none"
    )


def _require_sdk(module: str, provider: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ProviderConfigError(
            f"provider {provider!r} needs the {module!r} package: pip install 'polos[agents]'"
        )


def _litellm_provider(
    model: str,
    api_key: str | None,
    base_url: str | None,
    retry: RetryPolicy | None,
    timeout: float | None,
) -> LiteLLMProvider:
    litellm = import_litellm()
    try:
        litellm.get_llm_provider(model, api_base=base_url)
    except Exception as exc:  # LiteLLM signals an unroutable model with several types
        raise ProviderConfigError(
            f"LiteLLM does not know which provider serves model {model!r}: name it as "
            "'<provider>/<model>', e.g. 'gemini/gemini-2.0-flash'"
        ) from exc
    if api_key is None:
        missing = [str(k) for k in litellm.validate_environment(model=model)["missing_keys"]]
        # Only plain API keys are required here: other credentials (AWS roles,
        # Google ADC, a default local base URL) have sources LiteLLM cannot see.
        if missing and all(k.endswith("API_KEY") for k in missing):
            if base_url is None:
                raise ProviderConfigError(
                    f"model {model!r} needs an API key: set {' or '.join(missing)} in the "
                    "environment, or pass api_key=..."
                )
            api_key = PLACEHOLDER_API_KEY
    return LiteLLMProvider(model, api_key=api_key, base_url=base_url, retry=retry, timeout=timeout)
