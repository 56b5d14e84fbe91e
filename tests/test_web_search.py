"""The web search tool: an agent searches through Tavily's API (a local fake Tavily),
on SQLite and PostgreSQL; any provider can replace Tavily; every failure (no key,
refused, timed out, unreachable, a bad answer, a bad config) says what to do."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from polos import (
    Agent,
    Polos,
    WebSearchOptions,
    WebSearchResult,
    WebSearchResultItem,
    WebSearchToolConfig,
    WorkflowDefinitionError,
    create_web_search_tool,
)
from polos.testing import FakeOpenAIServer, FakeTavilyServer, RecordedRequest, Turn
from polos.tools.web_search import WebSearchError, tavily_search

KEY = "tvly-test"

web_search = create_web_search_tool(
    WebSearchToolConfig(tool_id="ws_search", max_results=3, max_retries=0, timeout=5)
)
researcher = Agent(id="ws_researcher", provider="openai", model="gpt-test", tools=[web_search])

SEARCHES: list[tuple[str, WebSearchOptions]] = []


async def _my_search(query: str, options: WebSearchOptions) -> WebSearchResult:
    SEARCHES.append((query, options))
    return WebSearchResult(
        query=query,
        results=[WebSearchResultItem(title="Mine", url="https://mine.example", content="c")],
    )


custom_search = create_web_search_tool(
    WebSearchToolConfig(tool_id="ws_custom", search=_my_search, topic="news")
)


@pytest.fixture
def tavily(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTavilyServer]:
    with FakeTavilyServer(api_key=KEY) as server:
        monkeypatch.setenv("POLOS_TAVILY_BASE_URL", server.base_url)
        monkeypatch.setenv("TAVILY_API_KEY", KEY)
        yield server


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        researcher.provider_base_url = server.base_url
        researcher._provider = None  # the provider client is built once, for the old URL
        yield server


def _tool_output(request: RecordedRequest) -> Any:
    [message] = [m for m in request.body["messages"] if m.get("role") == "tool"]  # type: ignore[union-attr]
    return json.loads(str(message["content"]))  # type: ignore[index]


async def test_an_agent_searches_the_web_through_tavily(
    polos: Polos, tavily: FakeTavilyServer, llm: FakeOpenAIServer
) -> None:
    def answer(request: RecordedRequest) -> Turn:
        found = _tool_output(request)
        return Turn.reply(f"{found['answer']} See {found['results'][0]['url']}")

    llm.add_turns(Turn.call("ws_search", {"query": "durable agents", "maxResults": 2}), answer)
    result = await researcher.run(polos, "What are durable agents?", timeout=30)

    assert result.text == "A summary about durable agents. See https://example.com/durable-agents"
    assert tavily.queries == ["durable agents"]
    [sent] = tavily.requests
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "query": "durable agents",
        "max_results": 2,
        "topic": "general",
        "search_depth": "basic",
        "include_answer": True,
        "include_raw_content": False,
    }
    shown = _tool_output(llm.requests[1])
    assert shown["query"] == "durable agents"
    assert [r["url"] for r in shown["results"]] == [
        "https://example.com/durable-agents",
        "https://news.example.org/durable-agents",
    ]
    assert shown["results"][1]["publishedDate"] == "2026-11-01"
    assert shown["results"][0]["score"] == 0.9
    # The model is told what the tool takes: a query, maxResults, a topic.
    [spec] = llm.requests[0].body["tools"]  # type: ignore[misc]
    assert spec["function"]["name"] == "ws_search"
    assert set(spec["function"]["parameters"]["properties"]) == {"query", "maxResults", "topic"}

    # The search is a recorded step of the tool's own run: a replay reads it back.
    [tool_run] = await polos.list_executions(workflow_id="ws_search")
    steps = await polos.client.store.list_steps(tool_run.id)
    assert [s.step_key for s in steps] == ["web_search"]
    assert tool_run.parent_execution_id == result.execution_id


async def test_the_tool_default_max_results_and_a_custom_provider(
    polos: Polos, tavily: FakeTavilyServer
) -> None:
    out = await web_search.run(polos, {"query": "sqlite wal"}, timeout=30)
    assert tavily.requests[0].body["max_results"] == 3  # the config's default
    assert out["answer"] == "A summary about sqlite wal."

    SEARCHES.clear()
    mine = await custom_search.run(polos, {"query": "q1", "maxResults": 4}, timeout=30)
    assert mine == {
        "query": "q1",
        "answer": None,
        "results": [
            {
                "title": "Mine",
                "url": "https://mine.example",
                "content": "c",
                "score": None,
                "publishedDate": None,
            }
        ],
    }
    assert [("q1", WebSearchOptions(max_results=4, topic="news"))] == SEARCHES
    assert len(tavily.requests) == 1  # the custom provider never reached Tavily


async def test_a_missing_key_fails_the_tool_clearly_and_the_agent_goes_on(
    polos: Polos, tavily: FakeTavilyServer, llm: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAVILY_API_KEY")

    def answer(request: RecordedRequest) -> Turn:
        [message] = [m for m in request.body["messages"] if m.get("role") == "tool"]  # type: ignore[union-attr]
        return Turn.reply("tool said: " + str(message["content"]))  # type: ignore[index]

    llm.add_turns(Turn.call("ws_search", {"query": "x"}), answer)
    result = await researcher.run(polos, "search x", timeout=30)
    assert "TAVILY_API_KEY" in result.text
    assert tavily.requests == []  # never sent without a key


# --- the Tavily client alone (no store) ---------------------------------------------------

OPTIONS = WebSearchOptions(max_results=2, topic="news")


def _config(server: FakeTavilyServer, **options: Any) -> WebSearchToolConfig:
    return WebSearchToolConfig(base_url=server.base_url, api_key=KEY, **options)


async def test_tavily_answers_become_results(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeTavilyServer(api_key=KEY, answer="short") as server:
        found = await tavily_search(_config(server, search_depth="advanced"))("llm", OPTIONS)
        assert found.answer == "short" and len(found.results) == 2
        assert server.requests[0].body["topic"] == "news"
        assert server.requests[0].body["search_depth"] == "advanced"
        # The base URL can come from the environment instead.
        monkeypatch.setenv("POLOS_TAVILY_BASE_URL", server.base_url + "/")
        again = await tavily_search(WebSearchToolConfig(api_key=KEY))("env", OPTIONS)
        assert again.query == "env" and server.queries == ["llm", "env"]


async def test_tavily_failures_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    async with FakeTavilyServer(api_key=KEY) as server:
        no_key = WebSearchToolConfig(base_url=server.base_url)
        with pytest.raises(WebSearchError, match="TAVILY_API_KEY"):
            await tavily_search(no_key)("q", OPTIONS)

        wrong = WebSearchToolConfig(base_url=server.base_url, api_key="tvly-wrong")
        with pytest.raises(WebSearchError, match=r"401.*invalid API key.*TAVILY_API_KEY"):
            await tavily_search(wrong)("q", OPTIONS)

        server.fail(400, "Invalid topic")
        with pytest.raises(WebSearchError, match="400: Invalid topic"):
            await tavily_search(_config(server))("q", OPTIONS)

        # Rate limits and server errors are worth retrying: not a WebSearchError (fatal).
        server.fail(503, "overloaded")
        with pytest.raises(Exception, match="503: overloaded") as caught:
            await tavily_search(_config(server))("q", OPTIONS)
        assert not isinstance(caught.value, WebSearchError)

    async with FakeTavilyServer(api_key=KEY, delay=1.0) as slow:
        with pytest.raises(Exception, match=r"did not answer within 0.2s"):
            await tavily_search(_config(slow, timeout=0.2))("q", OPTIONS)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(Exception, match=r"could not reach Tavily.*POLOS_TAVILY_BASE_URL"):
        await tavily_search(WebSearchToolConfig(base_url=closed, api_key=KEY))("q", OPTIONS)


async def test_a_malformed_tavily_answer_is_named() -> None:
    def broken(query: str, body: Any) -> list[dict[str, Any]]:
        return [{"title": "no url"}]

    async with FakeTavilyServer(broken, api_key=KEY) as server:
        with pytest.raises(WebSearchError, match="not a search result"):
            await tavily_search(_config(server))("q", OPTIONS)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_results": 0}, "max_results must be an int from 1 to 20"),
        ({"max_results": 21}, "max_results must be an int from 1 to 20"),
        ({"topic": "sports"}, "topic must be 'general' or 'news'"),
        ({"search_depth": "deep"}, "search_depth must be 'basic' or 'advanced'"),
        ({"search": "tavily"}, "search must be an async function"),
        ({"timeout": 0}, "timeout must be > 0"),
    ],
)
def test_a_bad_config_is_refused_when_the_tool_is_defined(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):
        create_web_search_tool(WebSearchToolConfig(tool_id="ws_bad", **options))
