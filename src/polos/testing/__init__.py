"""Testing kit: what a test of workflows and agents needs, offline and instant.

- :class:`PolosTestKit`: a fresh embedded ``Polos`` on a temporary SQLite
  file, with a :class:`TestClock` (``clock.advance(days=3)`` makes durable
  sleeps and schedules due at once) and step assertions (``assert_steps``);
  :mod:`polos.testing.pytest_plugin` hands them to tests as fixtures.
- Fake LLM servers that replay scripted turns: point the real ``openai`` or
  ``anthropic`` SDK (or an agent, through ``provider_base_url``) at one and
  every answer, tool call, streamed chunk and error comes from the script.

    from polos.testing import FakeOpenAIServer, Turn

    with FakeOpenAIServer([Turn.call("lookup", {"q": "x"}), Turn.reply("done")]) as llm:
        ...  # provider_base_url=llm.base_url
        assert len(llm.requests) == 2

The fake servers need the ``agents`` extra (starlette and uvicorn):
pip install 'polos-durable[agents]'; they are imported on first use, so the
clock and the kit work on the core install.
"""

from typing import TYPE_CHECKING, Any

from .clock import TestClock
from .kit import PolosTestKit, assert_steps, step_keys
from .script import FakeToolCall, RecordedRequest, Turn, TurnSource

if TYPE_CHECKING:
    from ._server import FakeServer
    from .fake_anthropic import FakeAnthropicServer
    from .fake_openai import FakeOpenAIServer
    from .fake_slack import FakeSlackServer, SlackMessage
    from .fake_tavily import FakeTavilyServer

_LAZY = {
    "FakeServer": "._server",
    "FakeAnthropicServer": ".fake_anthropic",
    "FakeOpenAIServer": ".fake_openai",
    "FakeSlackServer": ".fake_slack",
    "SlackMessage": ".fake_slack",
    "FakeTavilyServer": ".fake_tavily",
}


def __getattr__(name: str) -> Any:
    # The fake servers import starlette (the agents extra): only when asked for.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "FakeServer",
    "FakeSlackServer",
    "FakeTavilyServer",
    "FakeToolCall",
    "PolosTestKit",
    "RecordedRequest",
    "SlackMessage",
    "TestClock",
    "Turn",
    "TurnSource",
    "assert_steps",
    "step_keys",
]
