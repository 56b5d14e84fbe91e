"""Polos's own Python SDK (``polos-sdk`` 0.1.15) against ``polos server``, as real processes.

Fixtures (made available to every test module through tests/conftest.py):

- ``sdk_python``: the python of a virtualenv with polos-sdk installed (made once,
  cached in pytest's cache directory). Without network access the install fails
  and the test is skipped, unless ``CI`` is set: then it fails.
- ``polos_server``: ``polos server`` started as a subprocess on the test's
  ``database_url`` (a free port on 127.0.0.1, no API key: the SDK's local mode).
  ``start_polos_server`` makes more (other settings through ``env``).
- ``sdk_workers``: starts SDK worker scripts from tests/data in the SDK's
  virtualenv, pointed at ``polos_server``; every one still running is killed at
  the end of the test. A script calls ``sdk_worker_boot.run_worker(...)``
  (tests/data/sdk_worker_boot.py) with its workflows.

The worker's environment is what a Polos user would set: ``POLOS_API_URL``,
``POLOS_PROJECT_ID``, ``POLOS_LOCAL_MODE=true``, ``POLOS_WORKER_SERVER_URL`` (a
free port) and ``POLOS_DEPLOYMENT_ID``; ``extra`` adds to it (``SDK_TEST_DIR``
for a test's flag and counter files, say).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SDK = "polos-sdk==0.1.15"
DATA = Path(__file__).parent / "data"
POLOS = Path(sys.executable).parent / "polos"


@pytest.fixture(scope="session")
def sdk_python(request: pytest.FixtureRequest) -> Path:
    """The python of a virtualenv with polos-sdk installed (made once, then cached)."""
    root = Path(request.config.cache.mkdir("polos-sdk-0.1.15-venv"))
    python = root / "bin" / "python"
    ready = root / ".installed"
    if ready.exists() and python.exists():
        return python
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(root)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            reason = f"could not install {SDK} in a virtualenv: {done.stderr.strip()[-500:]}"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
    ready.write_text(SDK)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _clean_env() -> dict[str, str]:
    # The test process's own POLOS_* settings must not leak into the children.
    return {k: v for k, v in os.environ.items() if not k.startswith("POLOS_")}


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited {proc.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout}s:\n{_tail(log)}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class ServerProcess:
    """``polos server`` running as a subprocess."""

    url: str
    port: int
    database_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return _tail(self.log, 20000)

    def stop(self) -> None:
        _stop(self.proc)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start_polos_server(
    database_url: str,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    log_level: str = "warning",
) -> ServerProcess:
    """Start ``polos server`` on ``database_url`` and wait until /health answers."""
    port = port or free_port()
    log = log_dir / f"polos-server-{port}.log"
    args = [
        str(POLOS),
        "server",
        "--database-url",
        database_url,
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, env={**_clean_env(), **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/health", proc, log, 60)
    except BaseException:
        _stop(proc)
        raise
    return ServerProcess(url, port, database_url, proc, log)


@pytest.fixture
def polos_server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """``polos server`` as a subprocess on the test's database (SQLite and PostgreSQL)."""
    server = start_polos_server(database_url, tmp_path)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class SdkWorker:
    """One SDK worker process (its push server on ``port``)."""

    script: str
    port: int
    deployment_id: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return _tail(self.log, 20000)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no last callback."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM: the SDK's graceful shutdown."""
        _stop(self.proc, grace=15)


@dataclass
class SdkWorkers:
    """Starts SDK worker scripts (tests/data/<script>) against one server."""

    python: Path
    server_url: str
    log_dir: Path
    project_id: str = "default"
    started: list[SdkWorker] = field(default_factory=list)

    def start(
        self,
        script: str,
        *,
        deployment_id: str = "sdk-test",
        port: int | None = None,
        extra: dict[str, str] | None = None,
        api_key: str | None = None,
        ready_timeout: float = 60,
    ) -> SdkWorker:
        """Start ``script`` and wait until it has registered and its push server answers."""
        port = port or free_port()
        log = self.log_dir / f"sdk-worker-{Path(script).stem}-{port}-{len(self.started)}.log"
        env = {
            **_clean_env(),
            "POLOS_API_URL": self.server_url,
            "POLOS_PROJECT_ID": self.project_id,
            "POLOS_WORKER_SERVER_URL": f"http://127.0.0.1:{port}",
            "POLOS_DEPLOYMENT_ID": deployment_id,
            "PYTHONUNBUFFERED": "1",
            **(extra or {}),
        }
        if api_key is None:
            env["POLOS_LOCAL_MODE"] = "true"
        else:
            env["POLOS_API_KEY"] = api_key
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(self.python), str(DATA / script)],
                env=env,
                cwd=str(DATA),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = SdkWorker(script, port, deployment_id, proc, log)
        self.started.append(worker)
        # The SDK starts its push server only once it has registered and gone online.
        _wait_http(f"{worker.url}/health", proc, log, ready_timeout)
        return worker

    def close(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture
def sdk_workers(
    sdk_python: Path, polos_server: ServerProcess, tmp_path: Path
) -> Iterator[SdkWorkers]:
    workers = SdkWorkers(sdk_python, polos_server.url, tmp_path)
    try:
        yield workers
    finally:
        workers.close()
