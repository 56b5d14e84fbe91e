"""``polos.llm``: the LLM layer under the agents, where Polos code imports it from.

Providers are adapters over the official SDKs (:mod:`polos.agents.providers`);
:mod:`polos.llm.providers` gives them Polos's names.
"""

from ..agents.providers.types import LLMRequest, LLMResponse, Message, Usage

__all__ = ["LLMRequest", "LLMResponse", "Message", "Usage"]
