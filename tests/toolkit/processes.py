"""Worker subprocesses for crash, fencing and multi-process tests.

Every worker runs the one worker script, ``tests/apps/worker_app.py``,
serving the workflows of the test modules named in ``modules``; it prints
``ready`` once it claims work and serves until SIGTERM (graceful) or SIGKILL
(a crash). Its output goes to a file, never an unread pipe that would fill
and block a chatty worker.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
APP = TESTS / "apps" / "worker_app.py"
SRC = TESTS.parent / "src"
_numbers = itertools.count(1)


class WorkerProcess:
    """A worker subprocess; started and ready unless ``wait=False`` (then call
    :meth:`wait_ready`, so that several start at once)."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        modules: str = "crash_workflows",
        output: Path | None = None,
        ready_timeout: float = 30,
        wait: bool = True,
        **env: str,
    ) -> None:
        environment = {
            **os.environ,
            "POLOS_DATABASE_URL": database_url,
            "POLOS_TEST_LOG": str(log_path),
            "POLOS_TEST_MODULES": modules,
            "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            **env,
        }
        self.output_path = output or log_path.with_name(f"worker-{next(_numbers)}.out")
        with self.output_path.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(APP)], env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        self.ready_at: float | None = None
        self.killed_at: float | None = None
        if wait:
            self.wait_ready(ready_timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30) -> float:
        """Block until the worker printed ``ready``; returns when (epoch seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready" in self.output().split("\n"):
                self.ready_at = time.time()
                return self.ready_at
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"worker never printed 'ready'; output:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL, and reap, so that other workers see the pid is gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.killed_at = time.time()
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait for the graceful exit; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 15) -> str:
        """SIGTERM if still running, SIGKILL if it does not exit in time; returns the output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.output()

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")


def start_workers(
    count: int, database_url: str, log_path: Path, **options: str
) -> list[WorkerProcess]:
    """``count`` workers, started at once and all ready (``options``: as for
    :class:`WorkerProcess`, such as ``POLOS_TEST_LEASE="6"``)."""
    workers = [WorkerProcess(database_url, log_path, wait=False, **options) for _ in range(count)]
    for worker in workers:
        worker.wait_ready()
    return workers


async def stop_workers(workers: list[WorkerProcess]) -> list[str]:
    """Stop them all at once (off the event loop); returns their outputs."""
    return list(await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers)))
