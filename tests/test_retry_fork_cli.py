"""``polos retry``, ``polos fork`` and ``polos retry-failed`` as a user runs them: real
processes (the CLI, a worker) on both backends; bad input exits non-zero naming it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from polos import PolosClient
from polos.errors import WorkflowFailedError
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog


def polos(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLOS_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "polos.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(polos, *args, url=url)


async def test_cli_retry_fork_and_retry_failed(database_url: str, tmp_path: Path) -> None:
    log_path, gate = tmp_path / "steps.log", tmp_path / "gate"
    client = PolosClient(database_url=database_url)
    worker = WorkerProcess(database_url, log_path, modules="retry_workflows")
    try:
        runs = [await client.invoke("retry_flow", {"n": n, "gate": str(gate)}) for n in (1, 2)]
        for h in runs:
            with pytest.raises(WorkflowFailedError):
                await client.wait_for_result(h.id, timeout=30)
        gate.touch()

        retried = await _cli("retry", runs[0].id, url=database_url)
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert retried.stdout.strip() == runs[0].id  # bare: ID=$(polos retry ...) works
        assert await client.wait_for_result(runs[0].id, timeout=30) == {"a": 1, "b": 1, "c": 1}
        log = StepLog.read(log_path)
        assert len(log.starts[(runs[0].id, "a")]) == 1 and len(log.starts[(runs[0].id, "b")]) == 2

        refused = await _cli("retry", runs[0].id, url=database_url)
        assert refused.returncode == 1 and "is completed" in refused.stderr

        forked = await _cli(
            "fork", runs[0].id, "--from-step", "c", "--payload", '{"n": 8}', url=database_url
        )
        assert forked.returncode == 0, forked.stdout + forked.stderr
        fork_id = forked.stdout.strip()
        assert fork_id != runs[0].id
        assert await client.wait_for_result(fork_id, timeout=30) == {"a": 1, "b": 1, "c": 8}

        unknown = await _cli("fork", runs[0].id, "--from-step", "zz", url=database_url)
        assert unknown.returncode == 1
        assert "no step 'zz'" in unknown.stderr and "'a', 'b', 'c'" in unknown.stderr

        bulk = await _cli(
            "retry-failed", "--workflow", "retry_flow", "--error", "gate closed", "--json",
            url=database_url,
        )  # fmt: skip
        assert bulk.returncode == 0, bulk.stdout + bulk.stderr
        assert [r["execution_id"] for r in json.loads(bulk.stdout)] == [runs[1].id]
        assert await client.wait_for_result(runs[1].id, timeout=30) == {"a": 2, "b": 2, "c": 2}

        no_filter = await _cli("retry-failed", url=database_url)
        assert no_filter.returncode == 2 and "--all" in no_filter.stderr
        bad_time = await _cli("retry-failed", "--since", "yesterday-ish", url=database_url)
        assert bad_time.returncode == 2 and "--since" in bad_time.stderr
    finally:
        worker.stop()
        await client.close()
