"""A fake Tavily Search API: ``POST /search`` answered from canned or scripted results.

Point :func:`polos.create_web_search_tool` at it with ``POLOS_TAVILY_BASE_URL``
(or ``WebSearchToolConfig(base_url=server.url)``); it checks the bearer key
as Tavily does, records every search, and can be told to fail or to be slow.

    with FakeTavilyServer() as tavily:
        os.environ["POLOS_TAVILY_BASE_URL"] = tavily.url
        ...
        assert tavily.queries == ["durable execution"]
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import JsonValue
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._server import FakeServer
from .script import RecordedRequest

#: ``(query, request body) -> the results list`` for answers that depend on the query.
ResultsSource = Callable[[str, Mapping[str, Any]], Sequence[Mapping[str, Any]]]


class FakeTavilyServer(FakeServer):
    """Serves Tavily's ``/search``. ``results`` is what every search finds (default:
    two pages made from the query); ``api_key`` the key it accepts (None: any)."""

    server_name = "FakeTavilyServer"

    def __init__(
        self,
        results: Sequence[Mapping[str, Any]] | ResultsSource | None = None,
        *,
        api_key: str | None = "tvly-test",
        answer: str | None = None,
        delay: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__((), host=host)
        self.results = results
        self.api_key = api_key
        self.answer = answer
        self.delay = delay
        """Seconds each answer waits (to make clients time out)."""
        self._failures: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What ``POLOS_TAVILY_BASE_URL`` should be."""
        return self.url

    @property
    def queries(self) -> list[str]:
        """The query of every search received, in order."""
        return [str(r.body.get("query")) for r in self.requests]

    def fail(self, status: int, detail: str = "fake failure", *, times: int = 1) -> None:
        """Answer the next ``times`` searches with HTTP ``status``."""
        with self._lock:
            self._failures.extend([(status, detail)] * times)

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/search", self._search, methods=["POST"])]

    def error_response(self, status: int, message: str, headers: Mapping[str, str]) -> Response:
        return JSONResponse({"detail": {"error": message}}, status, dict(headers))

    async def _search(self, request: Request) -> Response:
        raw = await request.body()
        try:
            parsed: JsonValue = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else {}
        self.requests.append(
            RecordedRequest(request.method, request.url.path, dict(request.headers), body)
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if self.api_key is not None and (scheme.lower() != "bearer" or key != self.api_key):
            return self.error_response(401, "Unauthorized: missing or invalid API key.", {})
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            return self.error_response(failure[0], failure[1], {})
        query = body.get("query")
        if not isinstance(query, str) or not query:
            return self.error_response(400, "Query is missing.", {})
        max_results = body.get("max_results")
        limit = max_results if isinstance(max_results, int) else 5
        found = [dict(r) for r in self._results_for(query, body)][:limit]
        answer = self.answer if self.answer is not None else f"A summary about {query}."
        return JSONResponse(
            {
                "query": query,
                "answer": answer if body.get("include_answer") else None,
                "images": [],
                "results": found,
                "response_time": 0.01,
            }
        )

    def _results_for(self, query: str, body: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        if callable(self.results):
            return self.results(query, body)
        if self.results is not None:
            return self.results
        slug = "-".join(query.lower().split())[:60] or "page"
        return [
            {
                "title": f"{query} - overview",
                "url": f"https://example.com/{slug}",
                "content": f"An overview of {query}.",
                "score": 0.9,
                "raw_content": None,
            },
            {
                "title": f"{query} - news",
                "url": f"https://news.example.org/{slug}",
                "content": f"Latest news on {query}.",
                "score": 0.7,
                "published_date": "2026-11-01",
                "raw_content": None,
            },
        ]
