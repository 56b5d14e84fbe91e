"""Running the app with uvicorn in the current event loop (``polos server``, ``polos dev``, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from ..errors import ConfigurationError

#: How long the server keeps an idle connection open. Longer than clients keep
#: theirs (httpx: 5 s, Node: 4-5 s; our remote client: ``KEEPALIVE_EXPIRY``), so
#: the client is the one that closes: with uvicorn's default of 5 s both sides
#: gave up at the same moment, and a request sent on a connection the server
#: was just closing failed with a read error ("the server is unreachable").
KEEP_ALIVE_SECONDS = 75


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port), or a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle's algorithm off only on sockets
    # whose proto says TCP, and with it on every small response waits ~40 ms for
    # the client's delayed ACK on a reused connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            hint = "another process listens there; stop it or pass --port"
        elif exc.errno == errno.EACCES:
            hint = "ports below 1024 need privileges; pick a higher --port"
        else:
            hint = "check --host"
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror}; {hint}"
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class RunningServer:
    """uvicorn serving ``app`` on ``sock`` as a task of the running loop.

    ``async with RunningServer(app, bind("127.0.0.1", 0)) as server:`` serves
    until the block ends; ``server.url`` is where it listens.
    """

    def __init__(
        self,
        app: Starlette,
        sock: socket.socket,
        *,
        log_level: str = "warning",
        access_log: bool = False,
        shutdown_grace_seconds: float = 3.0,
    ) -> None:
        self.app = app
        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=max(1, round(shutdown_grace_seconds)),
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._serve())
        while not self.server.started:
            if self.task.done():
                # uvicorn exits (SystemExit) when the app fails to start (lifespan error).
                with contextlib.suppress(SystemExit):
                    self.task.result()
                reason = getattr(self.app.state, "startup_error", None)
                self.sock.close()
                raise ConfigurationError(
                    reason or f"the server on {self.url} failed to start; see the log above"
                )
            await asyncio.sleep(0.01)

    async def _serve(self) -> None:
        # uvicorn exits (SystemExit) when the app fails to start; raised in a task,
        # that would escape the event loop itself.
        with contextlib.suppress(SystemExit):
            await self.server.serve(sockets=[self.sock])

    async def wait(self) -> None:
        """Until the server stops (a signal, or :meth:`stop`)."""
        if self.task is not None:
            await asyncio.shield(self.task)

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        try:
            await self.task
        except SystemExit:  # pragma: no cover - uvicorn's exit on a failed shutdown
            pass
        finally:
            self.task = None
            self.sock.close()

    async def __aenter__(self) -> RunningServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
