"""``create_web_search_tool``: a tool through which an agent's model searches the web.

By default it asks Tavily's Search API (``POST {base_url}/search`` with the
key as a bearer token) over httpx; pass ``search=`` to use any other
provider. The search runs as a recorded step of the tool's run, so a replay
after a crash returns the results found the first time instead of paying for
a second search, and the model sees the same results either way.

The Tavily base URL is read from the config, else ``POLOS_TAVILY_BASE_URL``,
else ``https://api.tavily.com``: tests point it at
:class:`polos.testing.FakeTavilyServer`. The key is read when a search runs
(config, else ``TAVILY_API_KEY``), so defining the tool at import time needs
no key.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..agents.tools import Tool, ToolApproval
from ..engine.context import WorkflowContext
from ..errors import FatalError, WorkflowDefinitionError

__all__ = [
    "TavilySearchConfig",
    "WebSearchError",
    "WebSearchFunction",
    "WebSearchInput",
    "WebSearchOptions",
    "WebSearchResult",
    "WebSearchResultItem",
    "WebSearchToolConfig",
    "create_web_search_tool",
]

DEFAULT_TAVILY_URL = "https://api.tavily.com"
TAVILY_URL_ENV = "POLOS_TAVILY_BASE_URL"
TAVILY_KEY_ENV = "TAVILY_API_KEY"
#: Tavily accepts 0 to 20 results a query.
MAX_RESULTS_LIMIT = 20

Topic = Literal["general", "news"]
SearchDepth = Literal["basic", "advanced"]


class WebSearchResultItem(BaseModel):
    """One page found: its title, address and a snippet of its content."""

    title: str
    url: str
    content: str
    score: float | None = None
    published_date: str | None = None


class WebSearchResult(BaseModel):
    """What a search function returns: the query, the pages, and an optional summary."""

    query: str
    results: list[WebSearchResultItem]
    answer: str | None = None


class WebSearchOptions(BaseModel):
    """What the search function is asked for besides the query."""

    max_results: int
    topic: Topic


WebSearchFunction = Callable[[str, WebSearchOptions], Awaitable[WebSearchResult]]
"""A search provider: ``async def search(query, options) -> WebSearchResult``."""


class WebSearchError(FatalError):
    """A search that cannot succeed as asked (no key, refused, bad answer): never retried."""


class _Transient(Exception):
    """A search that may succeed if tried again (timeout, 429, 5xx): the step retries it."""


@dataclass
class TavilySearchConfig:
    """How the built-in Tavily search is called."""

    #: Tavily's key; default ``TAVILY_API_KEY`` (read when a search runs).
    api_key: str | None = None
    search_depth: SearchDepth = "basic"
    include_answer: bool = True
    include_raw_content: bool = False
    #: Default ``POLOS_TAVILY_BASE_URL``, else ``https://api.tavily.com``.
    base_url: str | None = None
    #: Seconds a search may take before it counts as failed (and is retried).
    timeout: float = 30.0


@dataclass
class WebSearchToolConfig(TavilySearchConfig):
    """Options of :func:`create_web_search_tool`."""

    #: Any provider; when set, the Tavily options above are not used.
    search: WebSearchFunction | None = None
    #: Results per query unless the model asks for another number.
    max_results: int = 5
    topic: Topic = "general"
    tool_id: str = "web_search"
    approval: ToolApproval | None = None
    #: Times a failed search (timeout, rate limit, server error) is tried again.
    max_retries: int = 2


class WebSearchInput(BaseModel):
    """What the model sends: a query, and optionally how many results and which topic."""

    model_config = ConfigDict(populate_by_name=True)

    query: str = Field(min_length=1, description="The search query")
    max_results: int | None = Field(
        default=None,
        alias="maxResults",
        ge=1,
        le=MAX_RESULTS_LIMIT,
        description="Maximum number of results to return",
    )
    topic: Topic | None = Field(
        default=None, description="Topic filter: general web search or news"
    )


def tavily_base_url(configured: str | None) -> str:
    return (configured or os.environ.get(TAVILY_URL_ENV) or DEFAULT_TAVILY_URL).rstrip("/")


def tavily_search(config: TavilySearchConfig) -> WebSearchFunction:
    """The built-in provider: Tavily's ``/search`` over httpx."""

    async def search(query: str, options: WebSearchOptions) -> WebSearchResult:
        api_key = config.api_key or os.environ.get(TAVILY_KEY_ENV)
        if not api_key:
            raise WebSearchError(
                "web search needs a Tavily API key: set TAVILY_API_KEY or pass "
                "WebSearchToolConfig(api_key=...), or give WebSearchToolConfig(search=...) "
                "another provider"
            )
        url = f"{tavily_base_url(config.base_url)}/search"
        body = {
            "query": query,
            "max_results": options.max_results,
            "topic": options.topic,
            "search_depth": config.search_depth,
            "include_answer": config.include_answer,
            "include_raw_content": config.include_raw_content,
        }
        try:
            async with httpx.AsyncClient(timeout=config.timeout) as http:
                response = await http.post(
                    url, json=body, headers={"Authorization": f"Bearer {api_key}"}
                )
        except httpx.TimeoutException:
            raise _Transient(
                f"Tavily did not answer within {config.timeout:g}s ({url}); raise "
                "WebSearchToolConfig(timeout=...) if searches are slow"
            ) from None
        except httpx.HTTPError as exc:
            raise _Transient(
                f"could not reach Tavily at {url}: {type(exc).__name__}: {exc}; check the "
                f"network, or {TAVILY_URL_ENV} / WebSearchToolConfig(base_url=...)"
            ) from None
        if response.status_code != 200:
            message = f"Tavily answered {response.status_code}: {_error_text(response)}"
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(message)
            if response.status_code in (401, 403):
                message += " (check TAVILY_API_KEY)"
            raise WebSearchError(message)
        try:
            data = response.json()
            return WebSearchResult(
                query=data.get("query") or query,
                answer=data.get("answer"),
                results=[
                    WebSearchResultItem(
                        title=r.get("title") or "",
                        url=r["url"],
                        content=r.get("content") or "",
                        score=r.get("score"),
                        published_date=r.get("published_date"),
                    )
                    for r in data.get("results") or []
                ],
            )
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise WebSearchError(
                f"Tavily's answer is not a search result ({type(exc).__name__}: {exc}): "
                f"{response.text[:200]!r}"
            ) from None

    return search


def _error_text(response: httpx.Response) -> str:
    """Tavily's ``detail`` (a string, or ``{"error": ...}``), else the raw body."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, dict):
        detail = detail.get("error")
    return str(detail) if detail else (response.text[:300] or response.reason_phrase)


def _check(config: WebSearchToolConfig) -> None:
    """Refuse a config that could never search, when the tool is defined."""
    where = f"create_web_search_tool (tool {config.tool_id!r})"
    if not isinstance(config.max_results, int) or not 1 <= config.max_results <= MAX_RESULTS_LIMIT:
        raise WorkflowDefinitionError(
            f"{where}: max_results must be an int from 1 to {MAX_RESULTS_LIMIT}, "
            f"not {config.max_results!r}"
        )
    if config.topic not in get_args(Topic):
        raise WorkflowDefinitionError(
            f"{where}: topic must be 'general' or 'news', not {config.topic!r}"
        )
    if config.search_depth not in get_args(SearchDepth):
        raise WorkflowDefinitionError(
            f"{where}: search_depth must be 'basic' or 'advanced', not {config.search_depth!r}"
        )
    if config.search is not None and not callable(config.search):
        raise WorkflowDefinitionError(
            f"{where}: search must be an async function (query, options) -> WebSearchResult"
        )
    if config.timeout <= 0 or config.max_retries < 0:
        raise WorkflowDefinitionError(
            f"{where}: timeout must be > 0 and max_retries >= 0 "
            f"(got {config.timeout!r}, {config.max_retries!r})"
        )


def _as_result(value: Any) -> WebSearchResult:
    """A custom provider's answer as a WebSearchResult (a dict of the same shape is accepted)."""
    if isinstance(value, WebSearchResult):
        return value
    try:
        return WebSearchResult.model_validate(value)
    except ValidationError as exc:
        raise WebSearchError(
            f"the search function returned {type(value).__name__}, not a WebSearchResult: {exc}"
        ) from None


def create_web_search_tool(config: WebSearchToolConfig | None = None) -> Tool:
    """A durable ``web_search`` tool to put in an agent's ``tools``.

    Tavily (``TAVILY_API_KEY``) unless ``config.search`` names another provider.
    """
    config = config or WebSearchToolConfig()
    _check(config)
    search = config.search or tavily_search(config)

    async def web_search(ctx: WorkflowContext, input: WebSearchInput) -> dict[str, Any]:
        options = WebSearchOptions(
            max_results=input.max_results or config.max_results,
            topic=input.topic or config.topic,
        )

        async def run_search() -> dict[str, Any]:
            # Stored as plain JSON: what the model is shown is what was recorded.
            return _as_result(await search(input.query, options)).model_dump(mode="json")

        found = WebSearchResult.model_validate(
            await ctx.step.run("web_search", run_search, max_retries=config.max_retries)
        )
        return {
            "query": found.query,
            "answer": found.answer,
            "results": [
                {
                    "title": r.title,
                    "url": r.url,
                    "content": r.content,
                    "score": r.score,
                    "publishedDate": r.published_date,
                }
                for r in found.results
            ],
        }

    return Tool(
        id=config.tool_id,
        description=(
            "Search the web for current information. Returns a list of relevant results "
            "with titles, URLs, and content snippets."
        ),
        func=web_search,
        approval=config.approval,
    )
