"""Testing kit: fake LLM servers that replay scripted turns.

Point the real ``openai`` or ``anthropic`` SDK (or an agent, through
``provider_base_url``) at a fake server and every answer, tool call, streamed
chunk and error comes from the script: deterministic tests, no network.

    from polos.testing import FakeOpenAIServer, Turn

    with FakeOpenAIServer([Turn.call("lookup", {"q": "x"}), Turn.reply("done")]) as llm:
        ...  # provider_base_url=llm.base_url
        assert len(llm.requests) == 2

Needs the ``agents`` extra (starlette and uvicorn): pip install 'polos-durable[agents]'.
"""

from ._server import FakeServer
from .fake_anthropic import FakeAnthropicServer
from .fake_openai import FakeOpenAIServer
from .fake_slack import FakeSlackServer, SlackMessage
from .fake_tavily import FakeTavilyServer
from .script import FakeToolCall, RecordedRequest, Turn, TurnSource

__all__ = [
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "FakeServer",
    "FakeSlackServer",
    "FakeTavilyServer",
    "FakeToolCall",
    "RecordedRequest",
    "SlackMessage",
    "Turn",
    "TurnSource",
]
