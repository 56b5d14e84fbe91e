"""``polos server`` in the foreground: serve until SIGINT / SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator

from .app import create_app
from .serve import RunningServer, bind
from .settings import APPROVAL_BASE_URL_ENV, ServerSettings

#: The approval link workers write when POLOS_APPROVAL_BASE_URL is not set.
WORKER_DEFAULT_BASE = "http://localhost:8080"


def announce(server: RunningServer, settings: ServerSettings, description: str) -> list[str]:
    """What ``polos server`` prints once it listens."""
    base = settings.base_url
    lines = [
        f"polos server listening on {server.url}, over {description}",
        f"  dashboard: {server.url}/",
        f"  API: {server.url}/api/v1/...   OpenAPI: {server.url}/openapi.json",
        f"  approval pages: {base}/approve/<execution id>/<step key>",
    ]
    if base != WORKER_DEFAULT_BASE:
        lines.append(
            f"  workers write approval links as {WORKER_DEFAULT_BASE}/approve/... unless told: "
            f"run them with {APPROVAL_BASE_URL_ENV}={base}"
        )
    return lines


def export_base_url(settings: ServerSettings) -> None:
    """Make this process (and the workers it starts) write approval links to this server."""
    os.environ[APPROVAL_BASE_URL_ENV] = settings.base_url


@contextlib.contextmanager
def on_stop_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` on SIGINT / SIGTERM while inside (uvicorn hands them back when it ends)."""
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
            handled.append(sig)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def serve(settings: ServerSettings, *, log_level: str = "info") -> None:
    """Serve until a stop signal."""
    sock = bind(settings.host, settings.port)
    export_base_url(settings)
    app = create_app(settings)
    server = RunningServer(
        app,
        sock,
        log_level=log_level,
        access_log=log_level in ("info", "debug"),
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )
    stopped = asyncio.Event()
    with on_stop_signals(stopped.set):
        async with server:
            state = app.state.polos
            for line in announce(server, settings, state.store.description):
                print(line, flush=True)
            waiting = asyncio.ensure_future(server.wait())
            signalled = asyncio.ensure_future(stopped.wait())
            await asyncio.wait({waiting, signalled}, return_when=asyncio.FIRST_COMPLETED)
            signalled.cancel()
            waiting.cancel()
