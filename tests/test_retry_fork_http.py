"""Retry, fork and bulk retry over a real ``polos server`` (uvicorn, real HTTP) on both
backends: the raw routes (statuses, bodies, refusals) and the remote client, which
gives what the direct client gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import retry_workflows  # noqa: F401  (registers the workflows the polos fixture serves)
from polos import PolosClient
from polos.errors import (
    ExecutionNotFoundError,
    ExecutionNotRetryableError,
    UnknownStepKeyError,
    WorkflowFailedError,
)
from server_kit import Served, serving


@pytest.fixture
async def served(polos: Any, database_url: str) -> AsyncIterator[Served]:
    async with serving(database_url) as s:
        yield s


async def _failed_run(polos: Any, gate: Path, n: int = 1) -> str:
    handle = await polos.invoke("retry_flow", {"n": n, "gate": str(gate)})
    with pytest.raises(WorkflowFailedError):
        await polos.wait_for_result(handle.id, timeout=20)
    return str(handle.id)


async def test_routes_retry_fork_and_retry_failed(
    polos: Any, served: Served, tmp_path: Path
) -> None:
    http, gate = served.http, tmp_path / "gate"
    failed = await _failed_run(polos, gate)
    gate.touch()

    answer = await http.post(f"/api/v1/executions/{failed}/retry")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["execution_id"] == failed and body["workflow_id"] == "retry_flow"
    assert body["status"] in ("queued", "running", "completed")
    assert await polos.wait_for_result(failed, timeout=20) == {"a": 1, "b": 1, "c": 1}

    again = await http.post(f"/api/v1/executions/{failed}/retry")
    assert again.status_code == 409 and again.json()["error_type"] == "NOT_RETRYABLE"
    assert "is completed" in again.json()["error"]
    missing = await http.post("/api/v1/executions/no-such-run/retry")
    assert missing.status_code == 404

    fork = await http.post(
        f"/api/v1/executions/{failed}/fork", json={"from_step": "c", "payload": {"n": 7}}
    )
    assert fork.status_code == 200, fork.text
    forked = fork.json()
    assert (forked["forked_from"], forked["from_step"]) == (failed, "c")
    assert forked["execution_id"] != failed
    result = await polos.wait_for_result(forked["execution_id"], timeout=20)
    assert result == {"a": 1, "b": 1, "c": 7}

    unknown = await http.post(f"/api/v1/executions/{failed}/fork", json={"from_step": "zz"})
    assert unknown.status_code == 422 and unknown.json()["error_type"] == "UNKNOWN_STEP_KEY"
    assert "'a', 'b', 'c'" in unknown.json()["error"]
    no_key = await http.post(f"/api/v1/executions/{failed}/fork", json={"payload": 1})
    assert no_key.status_code == 422 and "from_step" in no_key.json()["error"]
    typed = await http.post(
        f"/api/v1/executions/{failed}/fork", json={"from_step": "b", "payload": [1]}
    )
    assert typed.status_code == 422 and "retry_flow" in typed.json()["error"]
    gone = await http.post("/api/v1/executions/nope/fork", json={"from_step": "a"})
    assert gone.status_code == 404

    gate.unlink()
    runs = [await _failed_run(polos, gate, n) for n in (2, 3)]
    gate.touch()
    bulk = await http.post(
        "/api/v1/executions/retry_failed",
        json={"workflow_id": "retry_flow", "error_contains": "gate closed"},
    )
    assert bulk.status_code == 200, bulk.text
    assert sorted(r["execution_id"] for r in bulk.json()["executions"]) == sorted(runs)
    for run_id in runs:
        assert (await polos.wait_for_result(run_id, timeout=20))["c"] in (2, 3)
    bad = await http.post(
        "/api/v1/executions/retry_failed",
        json={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert bad.status_code == 422 and "until" in bad.json()["error"]
    assert (
        await http.post("/api/v1/executions/retry_failed", json={"limit": 0})
    ).status_code == 422


async def test_the_remote_client_retries_and_forks(
    polos: Any, served: Served, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    failed = await _failed_run(polos, gate)
    remote = PolosClient(api_url=served.url)
    try:
        with pytest.raises(ExecutionNotFoundError):
            await remote.retry_execution("no-such-run")
        gate.touch()
        handle = await remote.retry_execution(failed)
        assert handle.id == failed
        assert await remote.wait_for_result(failed, timeout=20) == {"a": 1, "b": 1, "c": 1}
        with pytest.raises(ExecutionNotRetryableError, match="is completed"):
            await remote.retry_execution(failed)

        fork = await remote.fork_execution(failed, from_step="b", payload={"n": 4})
        assert await remote.wait_for_result(fork.id, timeout=20) == {"a": 1, "b": 4, "c": 4}
        with pytest.raises(UnknownStepKeyError, match="'a', 'b', 'c'") as refused:
            await remote.fork_execution(failed, from_step="zz")
        assert refused.value.known == ["a", "b", "c"]

        gate.unlink()
        other = await _failed_run(polos, gate, 9)
        gate.touch()
        assert [h.id for h in await remote.retry_failed("retry_flow")] == [other]
        assert await remote.wait_for_result(other, timeout=20) == {"a": 9, "b": 9, "c": 9}
    finally:
        await remote.close()
