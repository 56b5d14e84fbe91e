"""What a person running Polos sees: the worker's log lines and ``polos show`` / ``watch``.

Real processes on a real database (both backends): a ``polos worker`` whose
stderr is read back, and the CLI run as a user runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polos import Polos, PolosClient, WorkflowContext, workflow
from toolkit.waiting import wait_for_status

FLOWS = """
from polos import WorkflowContext, workflow

tries = {"n": 0}


def flaky() -> str:
    tries["n"] += 1
    if tries["n"] == 1:
        raise RuntimeError("the first try fails")
    return "ok"


@workflow(id="obs_retry")
async def obs_retry(ctx: WorkflowContext) -> str:
    return await ctx.step.run("flaky", flaky, base_delay=0.05, max_delay=0.05)


@workflow(id="obs_fail")
async def obs_fail(ctx: WorkflowContext) -> str:
    raise ValueError("the order is invalid")


@workflow(id="obs_nap")
async def obs_nap(ctx: WorkflowContext) -> str:
    await ctx.step.wait_for("nap", seconds=0.2)
    return "rested"
"""

LONG = "x" * 300 + " the end"


@workflow(id="obs_show")
async def obs_show(ctx: WorkflowContext) -> dict[str, Any]:
    await ctx.step.run("quick", lambda: 1)
    await ctx.step.run("slow", _slow)
    text: str = await ctx.step.run("long", lambda: LONG)
    return {"text": text}


async def _slow() -> str:
    await asyncio.sleep(0.3)
    return "slept"


@workflow(id="obs_watched")
async def obs_watched(ctx: WorkflowContext, payload: dict[str, Any]) -> str:
    await ctx.step.run("first", lambda: "one")
    if "until" in payload:  # ends when the test says so, not after a time
        await ctx.step.wait_for_event("pause", topic=payload["until"])
    else:
        await ctx.step.wait_for("pause", seconds=payload["pause"])
    if payload.get("fail"):
        raise RuntimeError("watched run fails")
    return "done"


def cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLOS_DATABASE_URL": url, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "polos.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def worker_log(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    (tmp_path / "obs_flows.py").write_text(FLOWS)
    log = tmp_path / "worker.log"
    with log.open("w") as err:
        worker = subprocess.Popen(
            [sys.executable, "-m", "polos.cli", "worker", "obs_flows", "--log-format", "json"],
            cwd=tmp_path,
            env={**os.environ, "POLOS_DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert worker.stdout is not None
        assert "serving" in worker.stdout.readline()
        yield worker, log
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)


async def test_the_worker_logs_each_run_as_json_lines(
    database_url: str, worker_log: tuple[subprocess.Popen[str], Path]
) -> None:
    worker, log = worker_log
    async with PolosClient(database_url=database_url) as client:
        ids = {}
        for name in ("obs_retry", "obs_fail", "obs_nap"):
            ids[name] = (await client.invoke(name)).id
        await wait_for_status(client, ids["obs_retry"], "completed", timeout=20)
        await wait_for_status(client, ids["obs_fail"], "failed", timeout=20)
        await wait_for_status(client, ids["obs_nap"], "completed", timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    assert all({"time", "level", "logger", "event"} <= set(line) for line in lines)

    def of(name: str) -> list[tuple[str, dict[str, Any]]]:
        return [(x["event"], x) for x in lines if x.get("execution_id") == ids[name]]

    retry = of("obs_retry")
    assert [e for e, _ in retry] == ["run started", "step retry", "run completed"]
    assert retry[1][1]["step_key"] == "flaky" and "the first try fails" in retry[1][1]["error"]
    assert retry[2][1]["duration_ms"] >= 0 and retry[2][1]["workflow_id"] == "obs_retry"

    [started, failed] = of("obs_fail")
    assert started[0] == "run started"
    assert failed[0] == "run failed" and failed[1]["level"] == "warning"
    assert failed[1]["error"] == "ValueError: the order is invalid"
    assert "traceback" not in failed[1]

    nap = [e for e, _ in of("obs_nap")]
    assert (
        nap[0] == "run started"
        and nap[-1] == "run completed"
        and ("run waiting" in nap or "run parked" in nap)
    )


def test_bad_log_options_are_named(database_url: str, tmp_path: Path) -> None:
    bad = cli("worker", "nothing", "--log-format", "xml", url=database_url, cwd=tmp_path)
    assert bad.returncode == 2 and "--log-format" in bad.stderr and "json" in bad.stderr
    bad = cli("worker", "nothing", "--log-level", "loud", url=database_url, cwd=tmp_path)
    assert bad.returncode == 2 and "--log-level" in bad.stderr and "debug" in bad.stderr


async def test_show_gives_durations_human_times_and_whole_values(
    polos: Polos, database_url: str, tmp_path: Path
) -> None:
    handle = await polos.invoke(obs_show.id)
    await handle.result(timeout=20)
    shown = cli("show", handle.id, "--json", url=database_url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["id"] == handle.id and data["status"] == "completed"
    steps = {s["step_key"]: s for s in data["steps"]}
    assert list(steps) == ["quick", "slow", "long"]
    assert steps["slow"]["duration_seconds"] >= 0.29
    assert 0 <= steps["quick"]["duration_seconds"] < steps["slow"]["duration_seconds"]
    assert steps["long"]["output"] == LONG and data["result"] == {"text": LONG}
    assert data["duration_seconds"] >= steps["slow"]["duration_seconds"]

    human = cli("show", handle.id, url=database_url, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    out = human.stdout
    assert " UTC (" in out and "ago)" in out  # human times, not epoch floats
    assert "slow" in out and " ms" in out  # a duration per step
    assert "the end" in out and out.count("x") >= 600  # the value twice, never cut at 80


async def test_watch_follows_a_run_until_it_ends(
    polos: Polos, database_url: str, tmp_path: Path
) -> None:
    handle = await polos.invoke(obs_watched.id, {"pause": 1.0})
    env = {**os.environ, "POLOS_DATABASE_URL": database_url, "COLUMNS": "160"}
    watcher = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polos.cli",
        "watch",
        handle.id,
        "--interval",
        "0.1",
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(watcher.communicate(), 30)
    info = await polos.get_execution(handle.id)
    assert info.status == "completed"
    assert watcher.returncode == 0, err.decode()
    text = out.decode()
    assert "completed" in text and "first" in text and "pause" in text

    failing = await polos.invoke(obs_watched.id, {"pause": 0.1, "fail": True})
    await wait_for_status(polos, failing.id, "failed", timeout=20)
    watched = await asyncio.to_thread(
        cli, "watch", failing.id, "--interval", "0.1", url=database_url, cwd=tmp_path
    )
    assert watched.returncode == 1 and "watched run fails" in watched.stdout
    missing = await asyncio.to_thread(cli, "watch", "no-such-run", url=database_url, cwd=tmp_path)
    assert missing.returncode == 1 and "no-such-run" in missing.stderr  # errors: stderr

    # --json: one line per change, as show --json writes it, the last one final.
    # The run waits for an event published only once the watcher printed a
    # state, so the watcher sees it unfinished however slowly it starts.
    topic = f"watched-{tmp_path.name}"
    followed = await polos.invoke(obs_watched.id, {"until": topic})
    json_watcher = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "polos.cli", "watch", followed.id, "--json", "--interval", "0.05"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert json_watcher.stdout is not None and json_watcher.stderr is not None
    first = await asyncio.wait_for(json_watcher.stdout.readline(), 60)
    await polos.publish(topic, {"go": True})
    rest, err = await asyncio.wait_for(json_watcher.communicate(), 60)
    assert json_watcher.returncode == 0, err.decode()
    states = [json.loads(line) for line in (first + rest).decode().splitlines()]
    assert states[-1]["status"] == "completed" and states[-1]["id"] == followed.id
    assert len(states) >= 2 and states[0]["status"] != "completed"  # seen while it ran
    assert [s["step_key"] for s in states[-1]["steps"]] == [
        s.step_key for s in (await polos.get_execution(followed.id)).steps
    ]


def test_log_lines_as_text_and_as_json() -> None:
    import io
    import logging

    from polos.observability.logs import configure_logging, fields

    log = logging.getLogger("polos.test_lines")
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        for fmt in ("text", "json"):
            out = io.StringIO()
            configure_logging("info", fmt, out)
            log.info("run failed", extra=fields(execution_id="e1", error="Boom: a b", gone=None))
            log.debug("not shown")
            line = out.getvalue().strip()
            assert "\n" not in line
            if fmt == "text":
                assert line.endswith(
                    'polos.test_lines run failed execution_id=e1 error="Boom: a b"'
                )
            else:
                assert json.loads(line)["event"] == "run failed"
                assert json.loads(line)["error"] == "Boom: a b" and "gone" not in json.loads(line)
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
