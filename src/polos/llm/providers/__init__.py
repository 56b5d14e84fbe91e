"""``polos.llm.providers``: choosing an LLM provider by name.

``get_provider("openai", model="gpt-4o")`` returns the adapter an agent
with that provider and model uses (:mod:`polos.agents.providers`);
``@register_provider("name")`` adds one of your own.
"""

from ...agents.providers.base import Provider
from ...agents.providers.registry import get_provider as _get_provider
from ...agents.providers.registry import register_provider
from ...agents.providers.retry import RetryPolicy
from ...agents.providers.types import LLMResponse

LLMProvider = Provider
"""The interface every provider implements (``complete``, ``stream``, ``aclose``)."""

__all__ = ["LLMProvider", "LLMResponse", "get_provider", "register_provider"]


def get_provider(
    provider_name: str,
    model: str = "",
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    llm_api: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
) -> Provider:
    """The provider named ``provider_name`` for ``model`` (``ProviderConfigError`` if
    it is unknown, its SDK is missing, or it has no API key)."""
    return _get_provider(
        provider_name,
        model,
        base_url,
        api_key=api_key,
        retry=retry,
        timeout=timeout,
        llm_api=llm_api,
    )
