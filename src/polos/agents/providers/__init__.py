"""LLM providers: one neutral request/response model and an adapter per API.

The agent loop builds an ``LLMRequest``, calls ``complete`` or ``stream`` on
the ``Provider`` from ``get_provider``, and gets an ``LLMResponse`` back,
whatever the vendor. SDKs are imported only when a provider is used.
"""

from .anthropic_messages import AnthropicProvider
from .base import Provider
from .errors import (
    ProviderConfigError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from .litellm_provider import LiteLLMProvider
from .openai_chat import OpenAIChatProvider
from .openai_responses import OpenAIResponsesProvider
from .registry import PLACEHOLDER_API_KEY, get_provider
from .retry import RetryPolicy
from .types import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Role,
    StreamChunk,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

__all__ = [
    "PLACEHOLDER_API_KEY",
    "AnthropicProvider",
    "FinishReason",
    "LLMRequest",
    "LLMResponse",
    "LiteLLMProvider",
    "Message",
    "OpenAIChatProvider",
    "OpenAIResponsesProvider",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "ProviderRejectedError",
    "ProviderUnavailableError",
    "RetryPolicy",
    "Role",
    "StreamChunk",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "get_provider",
]
