"""Running ``polos server`` inside a test: uvicorn on a free port, an httpx client to it.

The server runs as a task of the test's own event loop, over its own
``PolosClient`` on the test's database (as a separate process would), and is
reached over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from polos.server import RunningServer, ServerSettings, bind, create_app
from polos.server.state import ServerState


@dataclass
class Served:
    url: str
    http: httpx.AsyncClient
    settings: ServerSettings
    state: ServerState


@asynccontextmanager
async def serving(database_url: str, **options: Any) -> AsyncIterator[Served]:
    sock = bind("127.0.0.1", 0)
    options.setdefault("keepalive_seconds", 15.0)
    settings = ServerSettings(database_url=database_url, port=sock.getsockname()[1], **options)
    app = create_app(settings)
    async with (
        RunningServer(app, sock, shutdown_grace_seconds=1) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
    ):
        yield Served(server.url, http, settings, app.state.polos)


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll ``check`` (every 20 ms) until it returns something truthy; that value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.02)


async def sse_frames(
    response: httpx.Response, count: int, *, comments: list[str] | None = None
) -> list[tuple[str | None, dict[str, Any]]]:
    """Read ``count`` events (id, data) from an open SSE response; comments are collected."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    event_id: str | None = None
    data: str | None = None
    async for line in response.aiter_lines():
        if line.startswith(":"):
            if comments is not None:
                comments.append(line)
            continue
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data is not None:
            out.append((event_id, json.loads(data)))
            data = None
            if len(out) == count:
                return out
    return out
