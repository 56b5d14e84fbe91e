"""``polos server`` and ``polos dev`` from the command line: clear errors for a missing
extra, a busy port or a malformed option, and ``polos dev`` reloading the worker when
the code changes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from polos.cli.app import app

SRC = Path(__file__).parent.parent / "src"


def test_missing_server_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("starlette", "uvicorn") or name.startswith("polos.server"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    with socket.socket() as busy:  # were it to start after all, it would fail at once
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = CliRunner().invoke(app, ["server", "--port", str(busy.getsockname()[1])])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "pip install 'polos-durable[server]'" in said and "starlette is not installed" in said


def test_busy_port_and_bad_options_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POLOS_APPROVAL_BASE_URL", raising=False)  # restored afterwards
    url = f"sqlite:///{tmp_path}/polos.db"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["server", "-d", url, "--port", str(port)])
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in said and "another process listens there" in said

    result = CliRunner().invoke(app, ["server", "-d", url, "--webhook-secret", "no-equals"])
    assert result.exit_code == 2 and "WORKFLOW_ID=SECRET" in result.output
    env = {"POLOS_WEBHOOK_SECRETS": "[1]"}
    result = CliRunner().invoke(app, ["server", "-d", url], env=env)
    assert result.exit_code == 2 and "POLOS_WEBHOOK_SECRETS" in result.output


APP_CODE = """
from polos import WorkflowContext, workflow


@workflow(id="dev_greet")
async def dev_greet(ctx: WorkflowContext, payload: dict) -> str:
    return "{greeting}, " + payload["name"]
"""


def _wait(check: object, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen; output:\n{log.read_text()}")


def _run(http: httpx.Client, name: str) -> object:
    started = http.post("/api/v1/workflows/dev_greet/run", json={"payload": {"name": name}})
    assert started.status_code == 200, started.text
    run_id = started.json()["execution_id"]
    for _ in range(1200):
        body = http.get(f"/api/v1/executions/{run_id}").json()
        if body["status"] == "completed":
            return body["result"]
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not complete: {body}")


def test_dev_serves_and_reloads_the_worker_on_change(database_url: str, tmp_path: Path) -> None:
    module = tmp_path / "greetings.py"
    module.write_text(APP_CODE.replace("{greeting}", "Hello"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "dev.log"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("POLOS_APPROVAL_BASE_URL", None)
    with log.open("w") as out:
        dev = subprocess.Popen(
            [
                *(sys.executable, "-m", "polos.cli", "dev", "greetings", "-d", database_url),
                *("--port", str(port), "--log-level", "warning"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:

            def served() -> bool:
                try:
                    return http.get("/api/v1/workflows/dev_greet").status_code == 200
                except httpx.TransportError:
                    return False

            _wait(served, "the worker registering dev_greet", log)
            output = log.read_text()
            assert f"polos server listening on {base}" in output
            assert f"dashboard: {base}/" in output
            assert "dev_greet" in http.get("/").text  # the dashboard's run list
            # the worker it started writes approval links to this server
            assert "POLOS_APPROVAL_BASE_URL=" in output
            assert _run(http, "Ada") == "Hello, Ada"

            module.write_text(APP_CODE.replace("{greeting}", "Bonjour"))
            _wait(lambda: "restarting the worker" in log.read_text(), "a reload", log)
            _wait(lambda: log.read_text().count("serving on") >= 2, "the new worker", log)
            assert _run(http, "Ada") == "Bonjour, Ada"
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
    assert dev.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
