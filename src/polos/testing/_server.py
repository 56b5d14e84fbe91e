"""A real HTTP server on 127.0.0.1, run in a background thread.

A thread (not a task on the test's event loop) lets synchronous tests, async
tests and the SDKs' own clients all reach the server alike, and a blocked
test loop cannot stall it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import orjson
from pydantic import JsonValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .script import RecordedRequest, Script, Turn, TurnSource

if TYPE_CHECKING:
    import uvicorn

_START_TIMEOUT = 10.0


class FakeServer:
    """What both fake LLM servers share: the thread, the script, the recording."""

    server_name = "FakeServer"

    def __init__(
        self,
        turns: Iterable[TurnSource] = (),
        *,
        host: str = "127.0.0.1",
        latency: float | tuple[float, float] = 0.0,
    ) -> None:
        """``latency`` plays a real model: each scripted answer waits that many
        seconds first, or a uniformly random time within ``(low, high)``."""
        low, high = latency if isinstance(latency, tuple) else (latency, latency)
        if not 0 <= low <= high:
            raise ValueError(
                f"latency must be seconds >= 0, or a (low, high) range with low <= high; "
                f"got {latency!r}"
            )
        self.latency = (float(low), float(high))
        self.host = host
        self.port = 0
        self.requests: list[RecordedRequest] = []
        """Every request received, in order, with its parsed JSON body."""
        self.busy_seconds = 0.0
        """Total time spent answering requests, each from its arrival to its
        last byte sent (a stream's too), the ``latency`` included: what a
        caller's own time minus this leaves is its own overhead. Concurrent
        requests each count in full."""
        self._script = Script(turns)
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- what subclasses provide --------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        raise NotImplementedError

    def error_response(self, status: int, message: str, headers: Mapping[str, str]) -> Response:
        """An HTTP error with a body in the format the provider's SDK parses."""
        raise NotImplementedError

    # -- public surface -----------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; valid once the server is started."""
        if not self.port:
            raise RuntimeError(f"{self.server_name} is not started: use it in a `with` block")
        return f"http://{self.host}:{self.port}"

    def add_turns(self, *turns: TurnSource) -> None:
        """Append turns to the script, even while the server runs."""
        self._script.add(*turns)

    @property
    def remaining_turns(self) -> int:
        return self._script.remaining

    def start(self) -> Self:
        import uvicorn  # imported late: only tests need the server

        # proto=IPPROTO_TCP, or asyncio leaves Nagle's algorithm on and each answer
        # on a reused connection waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))  # port 0: the OS picks a free port
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._timed(Starlette(routes=list(self.routes()))),
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_graceful_shutdown=1,
            # Longer than any client keeps an idle connection (aiohttp 15 s,
            # httpx 5 s), as model APIs do: with uvicorn's 5 s, a busy client
            # could reuse a connection the server was closing at that moment
            # ("Server disconnected"; a client without retries then failed).
            timeout_keep_alive=75,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.server_name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.server_name} failed to start on {self.host}")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=_START_TIMEOUT)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # In a thread: stopping waits for open connections, which this very
        # loop may still be reading.
        await asyncio.to_thread(self.stop)

    def _timed(self, app: ASGIApp) -> ASGIApp:
        """``app``, adding each HTTP request's time to :attr:`busy_seconds`."""

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                # Only the server's own thread writes it: no lock needed.
                self.busy_seconds += time.perf_counter() - start

        return timed

    # -- helpers for subclasses ---------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    async def take_turn(self, request: Request) -> tuple[RecordedRequest, Turn | Response]:
        """Record ``request`` and pick its turn, or the error response to send."""
        raw = await request.body()
        try:
            # orjson: a long conversation's request (160 KB at 1,000 tool calls)
            # parses in half the time, and the fake shares the GIL with the test.
            parsed: JsonValue = orjson.loads(raw) if raw else {}
        except ValueError:  # orjson.JSONDecodeError is one
            parsed = None
        body: dict[str, JsonValue] = parsed if isinstance(parsed, dict) else {}
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers=dict(request.headers),
            body=body,
        )
        self.requests.append(recorded)
        if not isinstance(parsed, dict):
            return recorded, self.error_response(400, "the body is not a JSON object", {})
        source = self._script.next_source()
        if source is None:
            message = (
                f"{self.server_name} has no scripted turn left for request "
                f"#{len(self.requests)} ({self._script.served} turn(s) were scripted); "
                "add more turns"
            )
            return recorded, self.error_response(400, message, {})
        if isinstance(source, Turn):
            turn = source
        else:
            try:
                turn = source(recorded)
            except Exception as exc:  # a bug in the test's callable: say so in the answer
                message = f"the scripted turn function raised {type(exc).__name__}: {exc}"
                return recorded, self.error_response(400, message, {})
        if turn.is_error:
            return recorded, self.error_response(turn.status, turn.error_message, turn.headers)
        low, high = self.latency
        if high > 0:
            await asyncio.sleep(random.uniform(low, high))
        return recorded, turn


def json_response(payload: Mapping[str, Any]) -> JSONResponse:
    return JSONResponse(dict(payload))


def sse_event(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    """One Server-Sent Event; the SDKs split events on blank lines."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()
