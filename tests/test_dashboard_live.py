"""The dashboard's live feeds over real HTTP, on SQLite and PostgreSQL: pages
following the same live part share one watcher, each is told when what it
shows changes, and the watcher goes when the last page leaves."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest

import server_workflows  # noqa: F401  (the srv_* workflows the worker serves)
from polos import Polos
from polos.server.dashboard import live
from server_kit import Served, serving, until


class Feed:
    """An open live feed, read line by line across calls."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def changed(self) -> str:
        """The version of the next ``changed`` event."""
        event = None
        async for line in self._lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "changed":
                return line[6:]
        raise AssertionError("the feed ended")


async def _watching(s: Served, key: str, count: int | None) -> bool:
    return s.state.live.watching().get(key) == count


async def test_pages_following_the_run_list_share_a_watcher_and_hear_of_changes(
    polos: Polos, database_url: str
) -> None:
    async with serving(database_url) as s, contextlib.AsyncExitStack() as stack:
        feeds = [
            Feed(
                await stack.enter_async_context(
                    s.http.stream("GET", "/ui/live/runs", params={"workflow": "srv_echo"})
                )
            )
            for _ in range(5)
        ]
        assert all(
            f.response.headers["content-type"].startswith("text/event-stream") for f in feeds
        )
        first = await asyncio.gather(*(f.changed() for f in feeds))  # the version now
        assert len(set(first)) == 1
        await until(lambda: _watching(s, "runs?workflow=srv_echo", 5))

        run = await s.http.post("/api/v1/workflows/srv_echo/run", json={"payload": {"n": 1}})
        assert run.status_code == 200, run.text
        later = await asyncio.gather(*(f.changed() for f in feeds))
        assert first[0] not in later  # each page was told that the list changed

        # The fragment the page fetches on that news shows the new run.
        shown = await s.http.get(
            "/ui/runs", params={"workflow": "srv_echo"}, headers={"HX-Request": "true"}
        )
        assert run.json()["execution_id"][:8] in shown.text
        await stack.aclose()
        await until(lambda: _watching(s, "runs?workflow=srv_echo", None))


async def _waiting_run(s: Served, topic: str) -> str:
    """A run waiting for an event on ``topic``; its id."""
    started = await s.http.post(
        "/api/v1/workflows/srv_wait/run", json={"payload": {"topic": topic}}
    )
    assert started.status_code == 200, started.text
    return str(started.json()["execution_id"])


async def test_a_run_page_hears_its_run_change(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        execution_id = await _waiting_run(s, "live-news")
        async with s.http.stream("GET", f"/ui/live/runs/{execution_id}") as response:
            feed = Feed(response)
            before = await feed.changed()
            await s.http.post(
                "/api/v1/events/publish",
                json={"topic": "live-news", "events": [{"event_type": "go", "data": {}}]},
            )
            after = await asyncio.wait_for(feed.changed(), 30)
            assert after != before


async def test_a_live_part_outlives_an_error_while_checking_for_news(
    polos: Polos, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_context = live.run_context
    failures: list[int] = []

    async def fails_twice(request: Any, execution_id: str) -> Any:
        if len(failures) < 2:
            failures.append(1)
            raise RuntimeError("a bug in making the part")
        return await real_context(request, execution_id)

    monkeypatch.setattr(live, "run_context", fails_twice)
    async with serving(database_url) as s:
        execution_id = await _waiting_run(s, "live-bug")
        async with s.http.stream("GET", f"/ui/live/runs/{execution_id}") as response:
            feed = Feed(response)
            # The watcher checks again (once a second) and the page hears the news.
            version = await asyncio.wait_for(feed.changed(), 15)
            assert len(failures) == 2 and version
