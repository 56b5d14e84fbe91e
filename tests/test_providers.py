"""The provider adapters, each against a fake server through its real SDK.

Every adapter (OpenAI Chat, OpenAI Responses, Anthropic, LiteLLM) runs the
same scenarios: text, parallel tool calls, tool results sent back,
streaming, usage, retries on 429/5xx, clear failures on 4xx. Registry tests
check configuration errors. Nothing reaches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from polos.agents.providers import (
    AnthropicProvider,
    LiteLLMProvider,
    LLMRequest,
    LLMResponse,
    Message,
    OpenAIChatProvider,
    OpenAIResponsesProvider,
    Provider,
    ProviderConfigError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RetryPolicy,
    StreamChunk,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    get_provider,
)
from polos.agents.providers.retry import parse_retry_after, stream_with_retries
from polos.errors import FatalError, PolosError
from polos.testing import (
    FakeAnthropicServer,
    FakeOpenAIServer,
    FakeServer,
    FakeToolCall,
    Turn,
    TurnSource,
)

# LiteLLM's own code warns about pydantic features it uses; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning"),
]

ADAPTERS = ["openai-chat", "openai-responses", "anthropic", "litellm"]
from offline import no_network  # noqa: E402,F401  (autouse: no test reaches the network)


class RecordedSleep:
    """Stands in for asyncio.sleep in the retry policy: records, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Harness:
    def __init__(self, provider: Provider, server: FakeServer, sleep: RecordedSleep) -> None:
        self.provider = provider
        self.server = server
        self.sleep = sleep

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [dict(request.body) for request in self.server.requests]


@asynccontextmanager
async def serving(
    kind: str, turns: list[TurnSource], *, max_retries: int = 2, max_retry_after: float = 60
) -> AsyncIterator[Harness]:
    """A provider of ``kind`` talking to a fake server that plays ``turns``."""
    server: FakeServer = (
        FakeAnthropicServer(turns) if kind == "anthropic" else FakeOpenAIServer(turns)
    )
    sleep = RecordedSleep()
    policy = RetryPolicy(
        max_retries=max_retries,
        base_delay=0.25,
        jitter=0,
        max_retry_after=max_retry_after,
        sleep=sleep,
    )
    async with server:
        model = "openai/fake-model" if kind == "litellm" else "fake-model"
        provider = get_provider(kind, model, server.base_url, retry=policy)
        try:
            yield Harness(provider, server, sleep)
        finally:
            await provider.aclose()


def ask(text: str = "Hello?", **options: Any) -> LLMRequest:
    return LLMRequest(messages=[Message.system("You are terse."), Message.user(text)], **options)


WEATHER = ToolSpec(
    name="get_weather",
    description="Weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
PARALLEL = Turn.calls(
    FakeToolCall("get_weather", {"city": "Paris"}, id="call_1"),
    FakeToolCall("get_weather", {"city": "Rome"}, id="call_2"),
)


async def collect(provider: Provider, request: LLMRequest) -> tuple[list[str], LLMResponse]:
    items = [item async for item in provider.stream(request)]
    *chunks, final = items
    assert all(isinstance(chunk, StreamChunk) for chunk in chunks)
    assert isinstance(final, LLMResponse)
    return [chunk.text for chunk in chunks if isinstance(chunk, StreamChunk)], final


def sent_tool_names(kind: str, body: dict[str, Any]) -> list[str]:
    tools = body.get("tools", [])
    if kind in ("openai-chat", "litellm"):
        return [tool["function"]["name"] for tool in tools]
    return [tool["name"] for tool in tools]


# -- text, tools, usage -----------------------------------------------------


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_plain_text(kind: str) -> None:
    async with serving(kind, [Turn.reply("Hi!", input_tokens=12, output_tokens=3)]) as h:
        response = await h.provider.complete(ask())
    assert response.text == "Hi!"
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.usage == Usage(input_tokens=12, output_tokens=3, total_tokens=15)
    assert response.model == "fake-model"
    assert response.id
    assert len(h.server.requests) == 1


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_parallel_tool_calls(kind: str) -> None:
    async with serving(kind, [PARALLEL]) as h:
        response = await h.provider.complete(ask("Weather in Paris and Rome?", tools=[WEATHER]))
    assert response.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "get_weather", {"city": "Rome"}),
    ]
    assert json.loads(response.tool_calls[1].raw_arguments) == {"city": "Rome"}
    assert sent_tool_names(kind, h.bodies[0]) == ["get_weather"]


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_tool_results_are_sent_back(kind: str) -> None:
    calls = [
        ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="call_2", name="get_weather", arguments={"city": "Rome"}),
    ]
    conversation = [
        Message.system("You are terse."),
        Message.user("Weather in Paris and Rome?"),
        Message.assistant("", calls),
        Message.tool(
            ToolResult(tool_call_id="call_1", content="sunny"),
            ToolResult(tool_call_id="call_2", content="no data", is_error=True),
        ),
    ]
    async with serving(kind, [Turn.reply("Sunny in Paris.")]) as h:
        response = await h.provider.complete(LLMRequest(messages=conversation, tools=[WEATHER]))
    assert response.text == "Sunny in Paris."
    body = h.bodies[0]
    if kind in ("openai-chat", "litellm"):
        messages = body["messages"]
        assert messages[0] == {"role": "system", "content": "You are terse."}
        sent_calls = messages[2]["tool_calls"]
        assert [c["id"] for c in sent_calls] == ["call_1", "call_2"]
        assert json.loads(sent_calls[0]["function"]["arguments"]) == {"city": "Paris"}
        assert [(m["role"], m["tool_call_id"], m["content"]) for m in messages[3:]] == [
            ("tool", "call_1", "sunny"),
            ("tool", "call_2", "no data"),
        ]
    elif kind == "openai-responses":
        items = body["input"]
        assert items[0] == {"role": "system", "content": "You are terse."}
        assert [(i["type"], i["call_id"]) for i in items[2:4]] == [
            ("function_call", "call_1"),
            ("function_call", "call_2"),
        ]
        assert [(i["type"], i["call_id"], i["output"]) for i in items[4:]] == [
            ("function_call_output", "call_1", "sunny"),
            ("function_call_output", "call_2", "no data"),
        ]
        assert body["store"] is False
    else:
        assert body["system"] == "You are terse."
        assistant, results = body["messages"][1:]
        assert [(b["type"], b["id"], b["input"]) for b in assistant["content"]] == [
            ("tool_use", "call_1", {"city": "Paris"}),
            ("tool_use", "call_2", {"city": "Rome"}),
        ]
        # Both results in ONE user message, as Anthropic requires for parallel calls.
        assert results["role"] == "user"
        assert [(b["tool_use_id"], b["content"], b["is_error"]) for b in results["content"]] == [
            ("call_1", "sunny", False),
            ("call_2", "no data", True),
        ]


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_growing_conversation_is_sent_as_it_is_now(kind: str) -> None:
    # Each message's wire form is built once and reused by later calls: the
    # reuse must never send an old form, nor let one call's merging (parallel
    # results into one Anthropic message) leak into the next call's body.
    call = ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})
    assistant = Message.assistant("", [call])
    conversation = [
        Message.user("Weather?"),
        assistant,
        Message.tool(ToolResult(tool_call_id="call_1", content="sunny")),
    ]
    async with serving(kind, [Turn.reply("a"), Turn.reply("b"), Turn.reply("c")]) as h:
        await h.provider.complete(LLMRequest(messages=list(conversation)))
        # The model's next turn asked for Rome too: the message grows in place.
        assistant.tool_calls.append(ToolCall(id="call_2", name="get_weather", arguments={}))
        conversation.append(Message.tool(ToolResult(tool_call_id="call_2", content="rain")))
        await h.provider.complete(LLMRequest(messages=list(conversation)))
        await h.provider.complete(LLMRequest(messages=list(conversation)))
    first, second, third = h.bodies
    assert second == third
    if kind in ("openai-chat", "litellm"):
        assert [c["id"] for c in second["messages"][1]["tool_calls"]] == ["call_1", "call_2"]
        assert [m["content"] for m in second["messages"][2:]] == ["sunny", "rain"]
        assert len(first["messages"]) == 3
    elif kind == "openai-responses":
        kinds = [(i.get("type"), i.get("call_id")) for i in second["input"][1:]]
        assert kinds == [
            ("function_call", "call_1"),
            ("function_call", "call_2"),
            ("function_call_output", "call_1"),
            ("function_call_output", "call_2"),
        ]
        assert len(first["input"]) == 3
    else:
        assert [b["id"] for b in second["messages"][1]["content"]] == ["call_1", "call_2"]
        assert [b["content"] for b in second["messages"][2]["content"]] == ["sunny", "rain"]
        assert len(second["messages"]) == 3
        assert [b["content"] for b in first["messages"][2]["content"]] == ["sunny"]


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_request_options_reach_the_server(kind: str) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    request = ask(temperature=0.2, max_output_tokens=77, response_schema=schema)
    async with serving(kind, [Turn.reply('{"ok": true}')]) as h:
        await h.provider.complete(request)
    body = h.bodies[0]
    assert body["temperature"] == 0.2
    if kind == "openai-responses":
        assert body["max_output_tokens"] == 77
        assert body["text"]["format"]["schema"] == schema
    elif kind == "anthropic":
        assert body["max_tokens"] == 77
        assert body["output_config"]["format"] == {"type": "json_schema", "schema": schema}
    else:
        # Through a base URL (a compatible server), the widely known max_tokens.
        assert body["max_tokens"] == 77
        assert body["response_format"]["json_schema"]["schema"] == schema


async def test_anthropic_gets_a_default_output_limit() -> None:
    async with serving("anthropic", [Turn.reply("ok")]) as h:
        await h.provider.complete(ask())
    assert h.bodies[0]["max_tokens"] == 4096


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_length_limit_is_reported(kind: str) -> None:
    async with serving(kind, [Turn(text="cut sh", finish_reason="length")]) as h:
        response = await h.provider.complete(ask())
    assert response.finish_reason == "length"
    assert response.text == "cut sh"


async def test_request_model_overrides_the_provider_model() -> None:
    async with serving("openai-chat", [Turn.reply("ok")]) as h:
        response = await h.provider.complete(ask().model_copy(update={"model": "other-model"}))
    assert h.bodies[0]["model"] == "other-model"
    assert response.model == "other-model"


# -- streaming --------------------------------------------------------------


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_stream_text_chunks_in_order(kind: str) -> None:
    turn = Turn(text="The quick brown fox", input_tokens=9, output_tokens=4)
    async with serving(kind, [turn]) as h:
        chunks, final = await collect(h.provider, ask())
    assert chunks == ["The ", "quick ", "brown ", "fox"]
    assert final.text == "The quick brown fox"
    assert final.finish_reason == "stop"
    assert final.usage == Usage(input_tokens=9, output_tokens=4, total_tokens=13)
    assert final.id
    assert h.server.requests[0].stream


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_stream_with_parallel_tool_calls(kind: str) -> None:
    turn = Turn.calls(*PARALLEL.tool_calls, text="Checking.")
    async with serving(kind, [turn]) as h:
        chunks, final = await collect(h.provider, ask(tools=[WEATHER]))
    assert chunks == ["Checking."]
    assert final.text == "Checking."
    assert final.finish_reason == "tool_calls"
    assert [(c.id, c.arguments) for c in final.tool_calls] == [
        ("call_1", {"city": "Paris"}),
        ("call_2", {"city": "Rome"}),
    ]


# -- retries and errors -----------------------------------------------------


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_rate_limit_is_retried_after_retry_after(kind: str) -> None:
    turns: list[TurnSource] = [Turn.error(429, "slow down", retry_after=2), Turn.reply("ok")]
    async with serving(kind, turns) as h:
        response = await h.provider.complete(ask())
    assert response.text == "ok"
    assert h.sleep.delays == [2.0]
    assert len(h.server.requests) == 2


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_server_error_is_retried_with_backoff(kind: str) -> None:
    turns: list[TurnSource] = [Turn.error(500), Turn.error(503), Turn.reply("ok")]
    async with serving(kind, turns) as h:
        response = await h.provider.complete(ask())
    assert response.text == "ok"
    assert h.sleep.delays == [0.25, 0.5]  # base_delay, then doubled
    assert len(h.server.requests) == 3


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_persistent_server_error_gives_up(kind: str) -> None:
    turns: list[TurnSource] = [Turn.error(502, "bad gateway")] * 3
    async with serving(kind, turns, max_retries=2) as h:
        with pytest.raises(ProviderUnavailableError) as caught:
            await h.provider.complete(ask())
    error = caught.value
    assert error.status_code == 502
    assert error.attempts == 3
    assert error.retryable
    assert "gave up after 3 attempt(s)" in str(error)
    assert len(h.server.requests) == 3


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_bad_request_fails_clearly_without_retry(kind: str) -> None:
    turns: list[TurnSource] = [Turn.error(400, "tools[0].name is invalid"), Turn.reply("never")]
    async with serving(kind, turns) as h:
        with pytest.raises(ProviderRejectedError) as caught:
            await h.provider.complete(ask())
    error = caught.value
    assert error.status_code == 400
    assert not error.retryable
    assert isinstance(error, FatalError) and isinstance(error, PolosError)
    assert "HTTP 400" in str(error) and "tools[0].name is invalid" in str(error)
    assert "not retried" in str(error)
    assert len(h.server.requests) == 1
    assert h.sleep.delays == []


async def test_unauthorized_points_at_the_api_key() -> None:
    async with serving("openai-chat", [Turn.error(401, "invalid key")]) as h:
        with pytest.raises(ProviderRejectedError, match="OPENAI_API_KEY"):
            await h.provider.complete(ask())


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_stream_retries_a_failure_before_the_first_chunk(kind: str) -> None:
    turns: list[TurnSource] = [Turn.error(429, retry_after=1), Turn.reply("fine then")]
    async with serving(kind, turns) as h:
        chunks, final = await collect(h.provider, ask())
    assert chunks == ["fine ", "then"]
    assert final.text == "fine then"
    assert h.sleep.delays == [1.0]


@pytest.mark.parametrize("kind", ["openai-chat", "anthropic"])
async def test_stream_bad_request_is_not_retried(kind: str) -> None:
    async with serving(kind, [Turn.error(422, "unprocessable")]) as h:
        with pytest.raises(ProviderRejectedError, match="unprocessable"):
            await collect(h.provider, ask())
    assert len(h.server.requests) == 1


async def test_retry_after_beyond_the_limit_gives_up_at_once() -> None:
    async with serving("openai-chat", [Turn.error(429, retry_after=120)], max_retry_after=30) as h:
        with pytest.raises(ProviderUnavailableError) as caught:
            await h.provider.complete(ask())
    assert caught.value.retry_after == 120
    assert caught.value.attempts == 1
    assert "asked to wait 120s" in str(caught.value)
    assert h.sleep.delays == []


async def test_connection_refused_is_retried_then_reported() -> None:
    with FakeOpenAIServer() as server:
        base_url = server.base_url  # a port that nothing listens on once the block ends
    sleep = RecordedSleep()
    provider = get_provider(
        "openai-chat", "m", base_url, retry=RetryPolicy(max_retries=1, jitter=0, sleep=sleep)
    )
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.complete(ask())
    await provider.aclose()
    assert caught.value.status_code is None
    assert caught.value.attempts == 2
    assert "APIConnectionError" in str(caught.value)
    assert "timed out" not in str(caught.value)  # refused, not slow
    assert len(sleep.delays) == 1


async def test_stream_failure_after_chunks_is_not_retried() -> None:
    """Starting over would repeat text the caller already has."""
    opened = 0

    async def flaky() -> AsyncIterator[str]:
        nonlocal opened
        opened += 1
        yield "partial"
        raise ProviderUnavailableError("connection reset", provider="p", model="m")

    sleep = RecordedSleep()
    received: list[str] = []
    with pytest.raises(ProviderUnavailableError):
        async for item in stream_with_retries(flaky, RetryPolicy(sleep=sleep)):
            received.append(item)
    assert received == ["partial"]
    assert opened == 1 and sleep.delays == []


async def test_one_provider_serves_several_event_loops() -> None:
    """Each loop gets its own SDK client: pooled connections cannot cross loops."""
    import asyncio
    import threading

    with FakeOpenAIServer([Turn.reply("a"), Turn.reply("b")]) as server:
        provider = get_provider("openai-chat", "m", server.base_url)
        first = await provider.complete(ask())
        results: list[str] = []

        def other_loop() -> None:
            async def run() -> None:
                results.append((await provider.complete(ask())).text)
                await provider.aclose()

            asyncio.run(run())

        thread = threading.Thread(target=other_loop)
        thread.start()
        thread.join()
        await provider.aclose()
    assert (first.text, results) == ("a", ["b"])


# -- retry policy and Retry-After parsing --------------------------------------


def test_parse_retry_after() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    now = datetime(2030, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": later}, now=now) == 30.0


def test_retry_policy_backoff() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=5, jitter=0)
    assert [policy.delay(n, None) for n in (1, 2, 3, 4, 50)] == [1, 2, 4, 5, 5]
    assert policy.delay(1, 7.5) == 7.5
    jittery = RetryPolicy(base_delay=1, jitter=0.5)
    assert all(0.5 <= jittery.delay(1, None) <= 1.5 for _ in range(50))
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


# -- the neutral types ------------------------------------------------------


def test_messages_check_their_role() -> None:
    with pytest.raises(ValueError, match="only assistant messages carry tool_calls"):
        Message(role="user", tool_calls=[ToolCall(id="1", name="f")])
    with pytest.raises(ValueError, match="at least one tool result"):
        Message(role="tool")


def test_tool_call_arguments() -> None:
    assert ToolCall(id="1", name="f", arguments={"a": 1}).raw_arguments == '{"a": 1}'
    broken = ToolCall.from_raw("1", "f", '{"a": ')
    assert broken.arguments == {} and broken.raw_arguments == '{"a": '
    assert ToolCall.from_raw("1", "f", "").raw_arguments == "{}"
    assert ToolCall.from_raw("1", "f", "[1]").arguments == {}


def test_responses_round_trip_as_json() -> None:
    response = LLMResponse(
        text="hi",
        tool_calls=[ToolCall(id="c", name="f", arguments={"x": [1, {"y": None}]})],
        usage=Usage.of(3, 4),
        finish_reason="tool_calls",
    )
    assert LLMResponse.model_validate_json(response.model_dump_json()) == response
    assert response.to_message().tool_calls == response.tool_calls
    assert (Usage.of(1, 2) + Usage.of(3, None)).total_tokens == 6


# -- registry: choosing and configuring providers ------------------------------


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(variable, raising=False)


def test_openai_picks_responses_or_chat(no_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert isinstance(get_provider("openai", "gpt-4o"), OpenAIResponsesProvider)
    # OpenAI-compatible servers rarely implement Responses: a base URL means Chat.
    local = get_provider("openai", "llama3", "http://127.0.0.1:11434/v1")
    assert isinstance(local, OpenAIChatProvider)
    assert isinstance(get_provider("openai-chat", "gpt-4o"), OpenAIChatProvider)
    remote = get_provider("openai-responses", "gpt-4o", "http://127.0.0.1:1/v1")
    assert isinstance(remote, OpenAIResponsesProvider)
    assert get_provider(" OpenAI ", "gpt-4o").name == "openai-responses"


def test_missing_openai_key_is_a_config_error(no_keys: None) -> None:
    with pytest.raises(ProviderConfigError, match="OPENAI_API_KEY"):
        get_provider("openai", "gpt-4o")


def test_missing_anthropic_key_is_a_config_error(no_keys: None) -> None:
    with pytest.raises(ProviderConfigError, match="ANTHROPIC_API_KEY"):
        get_provider("anthropic", "claude-sonnet-4-5")


def test_a_base_url_needs_no_key(no_keys: None) -> None:
    provider = get_provider("anthropic", "claude", "http://127.0.0.1:9/")
    assert isinstance(provider, AnthropicProvider)
    assert isinstance(get_provider("openai", "qwen", "http://127.0.0.1:8000/v1"), Provider)


def test_explicit_key_wins(no_keys: None) -> None:
    assert isinstance(get_provider("openai", "gpt-4o", api_key="sk-x"), OpenAIResponsesProvider)


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider 'nosuch'") as caught:
        get_provider("nosuch", "model")
    assert "openai" in str(caught.value) and "anthropic" in str(caught.value)
    assert isinstance(caught.value, PolosError)


def test_empty_model_is_a_config_error() -> None:
    with pytest.raises(ProviderConfigError, match="no model"):
        get_provider("openai", " ", "http://127.0.0.1:1/v1")


def test_litellm_provider_names(no_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "g-test")
    provider = get_provider("litellm", "gemini/gemini-2.0-flash")
    assert isinstance(provider, LiteLLMProvider)
    assert provider.model == "gemini/gemini-2.0-flash"
    assert get_provider("mistral", "mistral-large", api_key="m").model == "mistral/mistral-large"
    # Credentials other than plain keys (AWS roles...) are left to LiteLLM.
    assert isinstance(get_provider("bedrock", "anthropic.claude-v2"), LiteLLMProvider)


#: Polos's provider names reached at an OpenAI-compatible endpoint: the key's
#: variable and the endpoint used when no base URL is given.
COMPATIBLE = {
    "gemini": ("GEMINI_API_KEY", "https://generativelanguage.googleapis.com/v1beta/openai/"),
    "groq": ("GROQ_API_KEY", "https://api.groq.com/openai/v1"),
    "fireworks": ("FIREWORKS_API_KEY", "https://api.fireworks.ai/inference/v1"),
    "together": ("TOGETHER_API_KEY", "https://api.together.xyz/v1"),
}
POLOS_NAMES = [*COMPATIBLE, "azure", "ollama"]


@pytest.fixture
def no_vendor_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        *(v for v, _ in COMPATIBLE.values()),
        "GOOGLE_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "AZURE_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "OLLAMA_HOST",
    ):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize("name", sorted(COMPATIBLE))
def test_polos_provider_names_default_endpoints(
    name: str, no_vendor_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable, url = COMPATIBLE[name]
    with pytest.raises(ProviderConfigError, match=variable):
        get_provider(name, "some-model")
    monkeypatch.setenv(variable, "k-test")
    provider = get_provider(name, "some-model")
    assert isinstance(provider, OpenAIChatProvider)
    assert (provider.name, provider.model, provider.base_url) == (name, "some-model", url)


def test_azure_and_ollama_endpoints(no_vendor_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderConfigError, match="AZURE_OPENAI_ENDPOINT"):
        get_provider("azure", "gpt-4o", api_key="k")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://acme.openai.azure.com")
    with pytest.raises(ProviderConfigError, match="AZURE_OPENAI_API_KEY"):
        get_provider("azure", "gpt-4o")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-test")
    azure = get_provider("azure", "gpt-4o")
    assert isinstance(azure, OpenAIChatProvider)
    assert azure.base_url == "https://acme.openai.azure.com/openai/v1/"
    local = get_provider("ollama", "llama3")  # no key needed
    assert isinstance(local, OpenAIChatProvider)
    assert local.base_url == "http://localhost:11434/v1"
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11434")
    again = get_provider("ollama", "llama3")
    assert isinstance(again, OpenAIChatProvider) and again.base_url == "http://gpu-box:11434/v1"


@pytest.mark.parametrize("name", POLOS_NAMES)
async def test_polos_provider_names_talk_to_a_compatible_server(
    name: str, no_vendor_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_variable = {"azure": "AZURE_OPENAI_API_KEY", **{n: v for n, (v, _) in COMPATIBLE.items()}}
    if name in key_variable:
        monkeypatch.setenv(key_variable[name], f"{name}-key")
    with FakeOpenAIServer([Turn.call("get_weather", {"city": "Oslo"}), Turn.reply("sunny")]) as llm:
        provider = get_provider(name, "vendor-model", llm.base_url)
        try:
            first = await provider.complete(ask("Weather in Oslo?", tools=[WEATHER]))
            chunks, final = await collect(provider, ask("And now?"))
        finally:
            await provider.aclose()
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert "".join(chunks) == final.text == "sunny"
    assert [r.path for r in llm.requests] == ["/v1/chat/completions"] * 2
    assert llm.requests[0].body["model"] == "vendor-model"
    expected_key = f"{name}-key" if name in key_variable else "not-needed"
    assert llm.requests[0].headers["authorization"] == f"Bearer {expected_key}"


def test_openai_llm_api_picks_the_api(no_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    chat = get_provider("openai", "gpt-4o", llm_api="chat_completions")
    assert isinstance(chat, OpenAIChatProvider)
    local = get_provider("openai", "gpt-4o", "http://127.0.0.1:1/v1", llm_api="responses")
    assert isinstance(local, OpenAIResponsesProvider)
    with pytest.raises(ProviderConfigError, match="provider_llm_api"):
        get_provider("openai", "gpt-4o", llm_api="completions")


def test_registered_providers_come_first(no_keys: None) -> None:
    from polos.agents.providers.registry import _CUSTOM, register_provider

    @register_provider("echo-test")
    class Echo:
        def __init__(self, model: str, **options: Any) -> None:
            self.name, self.model, self.options = "echo-test", model, options

    try:
        made = get_provider("echo-test", "m1", "http://x/v1", api_key="k")
        assert isinstance(made, Echo)
        assert (made.model, made.options["api_key"], made.options["base_url"]) == (
            "m1",
            "k",
            "http://x/v1",
        )
    finally:
        _CUSTOM.pop("echo-test")


def test_litellm_unroutable_model_is_a_config_error() -> None:
    with pytest.raises(ProviderConfigError, match="'<provider>/<model>'"):
        get_provider("litellm", "some-unknown-model")


def test_litellm_import_stays_offline() -> None:
    """LiteLLM is imported with its bundled price list, never fetching one."""
    code = """
import socket
def refuse(*args, **kwargs):
    raise SystemExit("network access during import: " + repr(args))
socket.socket.connect = refuse
socket.getaddrinfo = refuse
from polos.agents.providers.litellm_provider import import_litellm
import_litellm()
from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info
info = get_model_cost_map_source_info()
assert info["source"] == "local" and info["is_env_forced"], info
print("offline ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "offline ok" in result.stdout


def test_importing_polos_does_not_import_the_sdks() -> None:
    code = (
        "import sys, polos, polos.agents.providers\n"
        "loaded = [m for m in ('openai', 'anthropic', 'litellm') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_provider_errors_are_polos_errors() -> None:
    error = ProviderError("boom", provider="p", model="m")
    assert isinstance(error, PolosError)
    assert str(error) == "p call to model 'm' failed (no HTTP status): boom"


# The openai SDK walks a request body field by field against its type
# annotations before sending it; on a long conversation that walk cost more
# than everything else in an agent's turn (O(N) per call, O(N^2) per run).
SDK_WALKS = {
    "openai-chat": ("openai.resources.chat.completions.completions", "messages"),
    "openai-responses": ("openai.resources.responses.responses", "input"),
}


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("kind", list(SDK_WALKS))
async def test_the_conversation_skips_the_sdk_type_walk(
    kind: str, streamed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    module_name, key = SDK_WALKS[kind]
    module = importlib.import_module(module_name)
    walked: list[Any] = []
    real_walk = module.async_maybe_transform

    async def spy(data: Any, expected_type: Any) -> Any:
        walked.append(data.get(key))
        return await real_walk(data, expected_type)

    monkeypatch.setattr(module, "async_maybe_transform", spy)
    conversation = [Message.system("You are terse."), Message.user("Hi")] + [
        Message.assistant(f"answer {i}") for i in range(30)
    ]
    request = LLMRequest(messages=conversation, extra={"seed": 7})
    async with serving(kind, [Turn.reply("Done.")]) as h:
        if streamed:
            _, response = await collect(h.provider, request)
        else:
            response = await h.provider.complete(request)
    assert response.text == "Done."
    assert not any(walked)  # the SDK never walked the conversation
    body = h.bodies[0]
    # ...yet the whole conversation arrived, in order, beside the request's extras.
    sent = body[key]
    assert len(sent) == 32 and sent[0]["content"] == "You are terse."
    assert [m["content"] for m in sent[2:]] == [f"answer {i}" for i in range(30)]
    assert body["seed"] == 7 and body["model"] == "fake-model"


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_anthropic_call_skips_the_sdk_copy_of_the_body(
    streamed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # anthropic's messages.create and messages.stream copy the whole body field
    # by field before each call: the conversation, O(N) per call. The adapter
    # sends bytes it encodes, so the SDK copies no body at all.
    import anthropic._base_client as base

    copied: list[Any] = []
    real_copy = base.async_prepare_request_data

    async def spy(data: Any, **options: Any) -> Any:
        if options.get("location") == "body" and data is not None:
            copied.append(data)
        return await real_copy(data, **options)

    monkeypatch.setattr(base, "async_prepare_request_data", spy)
    conversation = [Message.system("You are terse."), Message.user("Hi")] + [
        Message.assistant(f"answer {i}") if i % 2 else Message.user(f"question {i}")
        for i in range(30)
    ]
    request = LLMRequest(messages=conversation, tools=[WEATHER], extra={"seed": 7})
    async with serving("anthropic", [Turn.call("get_weather", {"city": "Oslo"})]) as h:
        if streamed:
            _, response = await collect(h.provider, request)
        else:
            response = await h.provider.complete(request)
    assert copied == []
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    body = h.bodies[0]
    assert body.get("stream", False) is streamed
    assert body["system"] == "You are terse." and body["seed"] == 7
    assert [m["content"] for m in body["messages"][-2:]] == ["question 28", "answer 29"]
    assert h.server.requests[0].path == "/v1/messages"


async def test_an_anthropic_call_too_long_to_wait_for_is_refused_before_sending() -> None:
    # As messages.create does with the SDK's default timeout: stream instead.
    async with serving("anthropic", [Turn.reply("never")]) as h:
        with pytest.raises(ValueError, match="Streaming is required"):
            await h.provider.complete(ask(max_output_tokens=500_000))
    assert h.server.requests == []


@pytest.mark.parametrize("kind", ["openai-chat", "openai-responses"])
async def test_concurrent_calls_spread_over_small_connection_pools(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without aiohttp, calls go over httpx, whose pool bookkeeping grows with
    # the square of its connections: many calls in flight go over several small
    # pools, one call at a time over one.
    import asyncio

    from polos.agents.providers import _http_pools

    monkeypatch.setitem(sys.modules, "httpx_aiohttp", None)  # as if not installed
    monkeypatch.setattr(_http_pools, "PER_POOL", 4)
    async with FakeOpenAIServer([Turn.reply("answer")] * 22, latency=0.2) as server:
        provider = get_provider(kind, "fake-model", server.base_url)
        try:
            assert (await provider.complete(ask())).text == "answer"
            transport = provider._clients.get()._client._transport  # type: ignore[attr-defined]
            assert isinstance(transport, _http_pools.PooledTransport)
            assert len(transport.pools) == 1
            answers = await asyncio.gather(*(provider.complete(ask()) for _ in range(20)))
            assert [a.text for a in answers] == ["answer"] * 20
            assert len(transport.pools) == 5  # 20 in flight, 4 per pool
            assert transport.busy == [0] * 5  # every connection given back
            assert (await provider.complete(ask())).text == "answer"
            assert len(transport.pools) == 5
        finally:
            await provider.aclose()


@pytest.mark.parametrize("kind", ["openai-chat", "openai-responses"])
async def test_model_calls_go_over_aiohttp_when_installed(kind: str) -> None:
    import asyncio

    from httpx_aiohttp import AiohttpTransport

    async with FakeOpenAIServer([Turn.reply("answer")] * 30, latency=0.05) as server:
        provider = get_provider(kind, "fake-model", server.base_url)
        try:
            answers = await asyncio.gather(*(provider.complete(ask()) for _ in range(30)))
            assert [a.text for a in answers] == ["answer"] * 30
            transport = provider._clients.get()._client._transport  # type: ignore[attr-defined]
            assert isinstance(transport, AiohttpTransport)
        finally:
            await provider.aclose()


@pytest.mark.parametrize("kind", ["openai-chat", "openai-responses"])
async def test_openai_calls_on_one_client_each_send_their_own_request(kind: str) -> None:
    """The adapters keep the SDK's request options per client and path and copy
    them per call: each call still sends its own body, to the path under the
    client's base URL (also after that URL changes), with the SDK's headers."""
    with (
        FakeOpenAIServer([Turn.reply("a"), Turn.reply("b")]) as first,
        FakeOpenAIServer([Turn.reply("c")]) as second,
    ):
        provider = get_provider(kind, "m", first.base_url)
        try:
            assert (await provider.complete(ask("one"))).text == "a"
            assert (await provider.complete(ask("two"))).text == "b"
            client = provider._clients.get()  # type: ignore[attr-defined]
            client.base_url = second.base_url
            assert (await provider.complete(ask("three"))).text == "c"
        finally:
            await provider.aclose()
    path = "/v1/chat/completions" if kind == "openai-chat" else "/v1/responses"
    for server, texts in ((first, ["one", "two"]), (second, ["three"])):
        assert [r.path for r in server.requests] == [path] * len(texts)
        for request, text in zip(server.requests, texts, strict=True):
            assert text in json.dumps(request.body)
            assert request.headers["authorization"].startswith("Bearer ")
            assert request.headers["content-type"] == "application/json"
            assert request.headers["x-stainless-retry-count"] == "0"
