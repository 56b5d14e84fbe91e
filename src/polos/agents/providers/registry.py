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
- ``gemini``, ``groq``, ``fireworks``, ``together``, ``azure``, ``ollama``
  (the other names Polos accepts): Chat Completions through the ``openai``
  SDK at each vendor's OpenAI-compatible endpoint, with the key from the
  variable Polos reads (``GEMINI_API_KEY``, ``GROQ_API_KEY``,
  ``FIREWORKS_API_KEY``, ``TOGETHER_API_KEY``, ``AZURE_OPENAI_API_KEY``;
  Ollama needs none). Azure's endpoint comes from ``provider_base_url`` or
  ``AZURE_OPENAI_ENDPOINT``, Ollama's from ``OLLAMA_HOST``.
- ``litellm``: LiteLLM, with a model named its way (``gemini/gemini-2.0-flash``).
- any other LiteLLM provider name (``mistral``, ``bedrock``...): LiteLLM with
  the model prefixed by that name.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

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

ProviderFactory = Callable[..., Provider]
"""Builds a provider: ``factory(model, *, api_key, base_url, retry, timeout)``."""

_CUSTOM: dict[str, ProviderFactory] = {}


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider of your own under ``name`` (``Agent(provider=name)``).

    Decorate a class (or function) called as ``factory(model, *, api_key,
    base_url, retry, timeout)`` that returns a :class:`Provider`. A
    registered name takes precedence over the built-in ones.
    """

    def add(factory: ProviderFactory) -> ProviderFactory:
        _CUSTOM[name.strip().lower()] = factory
        return factory

    return add


#: Vendors reached at their OpenAI-compatible endpoint: the variables their key
#: may come from (the first is Polos's), and the endpoint.
_COMPATIBLE: dict[str, tuple[tuple[str, ...], str]] = {
    "gemini": (
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "https://generativelanguage.googleapis.com/v1beta/openai/",
    ),
    "groq": (("GROQ_API_KEY",), "https://api.groq.com/openai/v1"),
    "fireworks": (("FIREWORKS_API_KEY",), "https://api.fireworks.ai/inference/v1"),
    "together": (("TOGETHER_API_KEY",), "https://api.together.xyz/v1"),
}
_OWN_NAMES = (*_OPENAI_NAMES, "anthropic", *_COMPATIBLE, "azure", "ollama", "litellm")

#: ``provider_llm_api`` values (Polos's names) -> the OpenAI adapter they choose.
_LLM_APIS = {"responses": "openai-responses", "chat_completions": "openai-chat"}


def get_provider(
    provider: str,
    model: str,
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
    llm_api: str | None = None,
) -> Provider:
    """The provider adapter for ``provider`` and ``model``.

    ``api_key`` defaults to the provider's usual environment variable
    (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, or LiteLLM's per provider).
    ``retry`` governs rate limits, 5xx and network errors; ``timeout`` is
    per HTTP request, in seconds. ``llm_api`` (Polos's ``provider_llm_api``)
    picks OpenAI's ``"responses"`` or ``"chat_completions"`` API.

    Raises ``ProviderConfigError`` for an unknown provider, an empty model
    name, a missing SDK or a missing API key.
    """
    name = provider.strip().lower()
    if not model or not model.strip():
        raise ProviderConfigError(f"no model given for provider {provider!r}: pass model='...'")
    if name in _CUSTOM:
        return _CUSTOM[name](
            model, api_key=api_key, base_url=base_url, retry=retry, timeout=timeout
        )
    if llm_api is not None:
        if llm_api not in _LLM_APIS:
            raise ProviderConfigError(
                f"unknown provider_llm_api {llm_api!r}: use 'responses' or 'chat_completions'"
            )
        if name == "openai":
            name = _LLM_APIS[llm_api]
    if name in _COMPATIBLE or name in ("azure", "ollama"):
        _require_sdk("openai", name)
        key, url = _compatible_endpoint(name, api_key, base_url)
        return OpenAIChatProvider(
            model, api_key=key, base_url=url, retry=retry, timeout=timeout, name=name
        )
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
            "provider name such as mistral, bedrock or cohere "
            "(https://docs.litellm.ai/docs/providers)"
        )
    qualified = model if model.startswith(f"{name}/") else f"{name}/{model}"
    return _litellm_provider(qualified, api_key, base_url, retry, timeout)


def _compatible_endpoint(name: str, api_key: str | None, base_url: str | None) -> tuple[str, str]:
    """The key and the base URL of a vendor reached at its OpenAI-compatible endpoint."""
    if name == "ollama":
        host = base_url or os.environ.get("OLLAMA_HOST") or "http://localhost:11434"
        if "://" not in host:
            host = f"http://{host}"
        url = host if host.rstrip("/").endswith("/v1") else f"{host.rstrip('/')}/v1"
        return api_key or PLACEHOLDER_API_KEY, url
    if name == "azure":
        variables: tuple[str, ...] = ("AZURE_OPENAI_API_KEY", "AZURE_API_KEY")
        endpoint = base_url or os.environ.get("AZURE_OPENAI_ENDPOINT")
        if not endpoint:
            raise ProviderConfigError(
                "provider 'azure' needs the resource's endpoint: pass "
                "provider_base_url='https://<resource>.openai.azure.com/openai/v1/' or set "
                "AZURE_OPENAI_ENDPOINT"
            )
        url = endpoint if base_url else f"{endpoint.rstrip('/')}/openai/v1/"
    else:
        variables, default_url = _COMPATIBLE[name]
        url = base_url or default_url
    key = api_key or next((os.environ[v] for v in variables if os.environ.get(v)), None)
    if key:
        return key, url
    if base_url is not None:
        return PLACEHOLDER_API_KEY, url
    raise ProviderConfigError(
        f"provider {name!r} needs an API key: set {variables[0]} in the environment or pass "
        "api_key=..."
    )


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


def sdk_of(provider: str) -> str | None:
    """The SDK package the built-in adapter for ``provider`` is built on
    (``openai``, ``anthropic`` or ``litellm``); None for a registered one."""
    name = provider.strip().lower()
    if name in _CUSTOM:
        return None
    if name in _OPENAI_NAMES or name in _COMPATIBLE or name in ("azure", "ollama"):
        return "openai"
    if name == "anthropic":
        return "anthropic"
    return "litellm"


def _require_sdk(module: str, provider: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ProviderConfigError(
            f"provider {provider!r} needs the {module!r} package: pip install 'polos-durable[agents]'"
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
