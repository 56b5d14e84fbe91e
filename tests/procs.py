"""Start and kill real worker processes for crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

APP = Path(__file__).parent / "apps" / "worker_app.py"
SRC = Path(__file__).parent.parent / "src"


class WorkerProcess:
    """A worker subprocess, started and ready (it printed ``ready``).

    Its output is a pipe read up to ``ready``; pass ``output`` (a file) for a
    long-lived or chatty worker, whose unread pipe would fill and block it.
    """

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        app: Path = APP,
        *,
        output: Path | None = None,
        ready_timeout: float = 30,
        **env: str,
    ) -> None:
        environment = {
            **os.environ,
            "POLOS_DATABASE_URL": database_url,
            "POLOS_TEST_LOG": str(log_path),
            "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            **env,
        }
        self.output_path = output
        if output is not None:
            with output.open("w") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, str(app)],
                    env=environment,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.ready_at = self._wait_for_file_line("ready", timeout=ready_timeout)
            return
        self.proc = subprocess.Popen(
            [sys.executable, str(app)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.ready_at = self._wait_for_line("ready", timeout=ready_timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_for_line(self, expected: str, timeout: float) -> float:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.strip() == expected:
                return time.time()
        self.kill()
        raise AssertionError(f"worker never printed {expected!r}; output:\n{''.join(seen)}")

    def _wait_for_file_line(self, expected: str, timeout: float) -> float:
        assert self.output_path is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if expected in self.output_path.read_text().split("\n"):
                return time.time()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"worker never printed {expected!r}; output:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL, and reap, so the pid is provably gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        if self.output_path is not None:
            return self.output_path.read_text()
        assert self.proc.stdout is not None
        return self.proc.stdout.read() if self.proc.poll() is not None else ""


@dataclass
class StepLog:
    """What the step functions wrote: starts and ends per (execution, step)."""

    starts: dict[tuple[str, str], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    ends: dict[tuple[str, str], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def read(cls, path: Path) -> StepLog:
        out = cls()
        if not path.exists():
            return out
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue  # a line cut by SIGKILL
            event, eid, key, pid, at = parts
            target = out.starts if event == "start" else out.ends
            target[(eid, key)].append((int(pid), float(at)))
        return out


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
