"""The ``polos`` command line, as a user runs it: real processes on a real database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FLOWS = """
from polos import WorkflowContext, workflow


@workflow(id="cli_approval")
async def cli_approval(ctx: WorkflowContext, input: dict) -> dict:
    decision = await ctx.step.suspend("approval", data={"amount": input["amount"]})
    return {"approved": decision.data["ok"]}
"""


def polos(*args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLOS_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "polos.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_runs_a_human_in_the_loop_flow(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "cli_flows.py").write_text(FLOWS)
    env = {**os.environ, "POLOS_DATABASE_URL": database_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "polos.cli", "worker", "cli_flows"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        # Started and registered its workflows (after the log lines of its start).
        # (one line per migration applied comes first: read well past them)
        assert any("serving" in worker.stdout.readline() for _ in range(200))
        started = polos(
            "invoke",
            "cli_approval",
            "--payload",
            '{"amount": 1500}',
            cwd=tmp_path,
            url=database_url,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        execution_id = started.stdout.strip()  # bare: ID=$(polos invoke ...) works
        for _ in range(100):
            listed = polos("suspended", cwd=tmp_path, url=database_url)
            if execution_id in listed.stdout:
                break
            time.sleep(0.2)
        assert execution_id in listed.stdout and '"amount": 1500' in listed.stdout
        resumed = polos(
            "resume",
            "cli_approval",
            execution_id,
            "approval",
            "--data",
            '{"ok": true}',
            cwd=tmp_path,
            url=database_url,
        )
        assert resumed.returncode == 0, resumed.stderr
        for _ in range(100):
            shown = polos("show", execution_id, cwd=tmp_path, url=database_url)
            if "completed" in shown.stdout:
                break
            time.sleep(0.2)
        assert "completed" in shown.stdout and '"approved": true' in shown.stdout
        assert "approval" in shown.stdout and "resumed" in shown.stdout  # steps and history
        assert execution_id in polos("list", cwd=tmp_path, url=database_url).stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_cli_errors_are_clear(database_url: str, tmp_path: Path) -> None:
    bad_json = polos(
        "invoke", "cli_approval", "--payload", "{amount:", cwd=tmp_path, url=database_url
    )
    assert (
        bad_json.returncode == 2
        and "--payload" in bad_json.stderr
        and "not valid JSON" in bad_json.stderr
    )
    unknown = polos("invoke", "cli_nobody_serves_this", cwd=tmp_path, url=database_url)
    assert unknown.returncode == 1 and "cli_nobody_serves_this" in unknown.stderr
    missing = polos("cancel", "no-such-id", cwd=tmp_path, url=database_url)
    assert missing.returncode == 1 and "no execution with id 'no-such-id'" in missing.stderr
    published = polos("publish", "cli.topic", "--data", '{"x": 1}', cwd=tmp_path, url=database_url)
    assert published.returncode == 0 and "cli.topic #" in published.stdout
    assert polos("queues", cwd=tmp_path, url=database_url).returncode == 0
