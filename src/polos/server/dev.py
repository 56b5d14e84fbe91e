"""``polos dev``: the server and a worker for your modules, the worker restarted on every change.

The worker is a child process (``polos worker <modules>``), so a reload
loads the new code from scratch; runs it was executing are handed back when
it stops (or, if it is killed, taken over once their lease expires) and
continue on the new worker, from their last recorded step. The server
itself does not import your code and keeps running throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from watchfiles import PythonFilter, awatch

from .app import create_app
from .run import announce, export_base_url, on_stop_signals
from .serve import RunningServer, bind
from .settings import ServerSettings

#: Seconds a stopping worker gets to hand its runs back before it is killed.
STOP_GRACE_SECONDS = 10.0


class WorkerProcess:
    """``polos worker`` for ``modules``, as a child process sharing this terminal."""

    def __init__(
        self, modules: Sequence[str], database_url: str, concurrency: int, cwd: Path
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "polos.cli",
            "worker",
            *modules,
            "--database-url",
            database_url,
            "--concurrency",
            str(concurrency),
        ]
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(*self.args, cwd=self.cwd, env=os.environ)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it may have just exited (Ctrl+C)
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()


async def run_dev(
    modules: Sequence[str],
    settings: ServerSettings,
    *,
    concurrency: int = 100,
    watch: Sequence[Path] = (),
    log_level: str = "info",
) -> None:
    """Serve, run a worker for ``modules``, restart it when a ``.py`` file changes."""
    export_base_url(settings)  # the worker (a child) writes approval links to this server
    cwd = Path.cwd()
    app = create_app(settings)
    server = RunningServer(
        app,
        bind(settings.host, settings.port),
        log_level=log_level,
        access_log=log_level in ("info", "debug"),
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )
    database_url = app.state.polos.client.database_url  # the server's, resolved
    worker = WorkerProcess(modules, database_url, concurrency, cwd)
    stopped = asyncio.Event()
    with on_stop_signals(stopped.set):
        async with server:
            for line in announce(server, settings, app.state.polos.store.description):
                print(line, flush=True)
            await worker.start()
            paths = [str(p) for p in (watch or [cwd])]
            print(f"polos dev: watching {', '.join(paths)} for changes", flush=True)
            reloader = asyncio.ensure_future(_reload_on_change(worker, paths, stopped))
            try:
                waiting = asyncio.ensure_future(server.wait())
                signalled = asyncio.ensure_future(stopped.wait())
                await asyncio.wait({waiting, signalled}, return_when=asyncio.FIRST_COMPLETED)
                signalled.cancel()
                waiting.cancel()
            finally:
                stopped.set()
                reloader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reloader
                await worker.stop()


async def _reload_on_change(worker: WorkerProcess, paths: list[str], stop: asyncio.Event) -> None:
    async for changes in awatch(*paths, watch_filter=PythonFilter(), stop_event=stop, debounce=300):
        names = sorted({Path(p).name for _, p in changes})
        print(f"polos dev: {', '.join(names)} changed; restarting the worker", flush=True)
        await worker.restart()
