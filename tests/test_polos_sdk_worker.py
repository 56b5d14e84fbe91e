"""The real polos-sdk 0.1.15 ``Worker`` (its own virtualenv, a process of its own) served
by ``polos server`` (a process of its own) on both backends: it registers, is pushed
runs, records steps, completes and fails them, replays after a SIGKILL without running
a recorded step again, is refused a late completion, is told of a cancellation, and
serves one project beside a worker of ours.

The SDK's workflows are in tests/data/sdk_core_worker.py; the harness in tests/sdk_kit.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from polos import Polos, PolosClient, WorkflowContext, workflow
from polos.store import Store, WorkerRow
from polos.store.api_keys import new_api_key
from sdk_kit import SdkWorkers, ServerProcess, start_polos_server
from server_kit import until

pytestmark = pytest.mark.slow

WORKER = "sdk_core_worker.py"


@workflow(id="sdkc_ours")
async def ours(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    value = await ctx.step.run("ours", lambda: payload["n"] + 1)
    return {"ours": value, "pid": os.getpid()}


def _count(folder: Path, name: str) -> int:
    path = folder / f"{name}.count"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def _run(http: httpx.AsyncClient, workflow_id: str, payload: Any) -> str:
    response = await http.post(f"/api/v1/workflows/{workflow_id}/run", json={"payload": payload})
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


async def _finished(store: Store, execution_id: str) -> Any:
    row = await store.get_execution(execution_id)
    return row if row is not None and row.status in ("completed", "failed", "cancelled") else None


async def _sdk_worker(store: Store) -> WorkerRow:
    async def online() -> WorkerRow | None:
        found = [w for w in await store.list_workers() if w.push_url and w.online]
        return found[0] if found else None

    row: WorkerRow = await until(online, 30)
    return row


@pytest.fixture
async def client(polos_server: ServerProcess) -> Any:
    async with PolosClient(database_url=polos_server.database_url) as c:
        yield c


@pytest.fixture
async def http(polos_server: ServerProcess) -> Any:
    async with httpx.AsyncClient(base_url=polos_server.url, timeout=30) as h:
        yield h


async def test_an_sdk_worker_runs_a_multi_step_workflow(
    sdk_workers: SdkWorkers, client: PolosClient, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    worker = sdk_workers.start(WORKER, deployment_id="dep-a", extra={"SDK_TEST_DIR": str(tmp_path)})
    store = client.store
    registered = await _sdk_worker(store)
    assert registered.push_url == worker.url and registered.deployment_id == "dep-a"
    assert set(registered.serves) == {"sdkc_steps", "sdkc_model", "sdkc_cancel", "sdkc_fail"}
    active = (await http.get("/api/v1/workers/active")).json()
    assert active == {"worker_ids": [registered.worker_id]}

    run_id = await _run(http, "sdkc_steps", {"tag": "plain", "n": 5})
    result = await client.wait_for_result(run_id, timeout=60)
    assert result["one"] == 1 and result["two"] == 1 and result["total"] == 15
    # The step's pydantic output came back as the model on the SDK's side.
    assert result["rebuilt"] == "Receipt"
    assert result["deployment_id"] == "dep-a"
    assert result["pid"] == worker.proc.pid

    info = await client.get_execution(run_id)
    assert info.status == "completed"
    assert info.result == result
    row = await store.get_execution(run_id)
    assert row is not None and row.deployment_id == "dep-a"  # the run carries its version
    # (the SDK records steps of its own too: publish_start, publish_finish)
    keys = [s.step_key for s in await store.list_steps(run_id)]
    assert [k for k in keys if k in ("one", "two", "three")] == ["one", "two", "three"]
    api = (await http.get(f"/api/v1/executions/{run_id}")).json()
    assert api["status"] == "completed" and api["result"] == result

    # What the SDK reads back on a replay: recorded output, the class to rebuild.
    three = (await http.get(f"/internal/executions/{run_id}/steps/three")).json()
    assert three["success"] is True and three["outputs"] == {"tag": "plain", "total": 15}
    assert three["output_schema_name"].endswith("Receipt")
    missing = await http.get(f"/internal/executions/{run_id}/steps/nope")
    assert missing.status_code == 404
    listed = (await http.get(f"/internal/executions/{run_id}/steps")).json()["steps"]
    assert [s["step_key"] for s in listed] == keys

    # A step written to a finished run is refused; one already recorded keeps its first value.
    late = await http.post(f"/internal/executions/{run_id}/steps", json={"step_key": "four"})
    assert late.status_code == 409, late.text
    again = await http.post(
        f"/internal/executions/{run_id}/steps", json={"step_key": "one", "outputs": 99}
    )
    assert again.status_code == 200
    one = (await http.get(f"/internal/executions/{run_id}/steps/one")).json()
    assert one["outputs"] == 1

    # A pydantic result: plain JSON for us, its class kept for an SDK reading it.
    model_id = await _run(http, "sdkc_model", {"tag": "m", "n": 4})
    assert await client.wait_for_result(model_id, timeout=60) == {"tag": "m", "total": 12}
    model_row = await store.get_execution(model_id)
    assert model_row is not None and model_row.output_schema_name == "__main__.Receipt"

    # A failing workflow is retried twice (its failure is retryable, as Polos's
    # orchestrator does), replaying its recorded step, then fails with the SDK's message.
    failed_id = await _run(http, "sdkc_fail", {"tag": "boom"})
    failed = await until(lambda: _finished(store, failed_id), 90)
    assert failed.status == "failed" and "refusing boom" in (failed.error or "")
    history = [h.event for h in await store.list_history(failed_id)]
    assert history.count("retried") == 2 and history.count("claimed") == 3
    assert _count(tmp_path, "boom_one") == 1


async def test_a_killed_sdk_worker_run_is_finished_by_the_next_without_rerunning_a_step(
    sdk_workers: SdkWorkers, client: PolosClient, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    extra = {"SDK_TEST_DIR": str(tmp_path)}
    first = sdk_workers.start(WORKER, deployment_id="dep-k", extra=extra)
    store = client.store
    old = await _sdk_worker(store)
    run_id = await _run(http, "sdkc_steps", {"tag": "crash", "hold": True, "n": 2})

    async def step_one_recorded() -> bool:
        return await store.get_step(run_id, "one") is not None

    await until(step_one_recorded, 60)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)

    # The server finds the worker gone and puts the run back in the queue.
    async def requeued() -> bool:
        row = await store.get_execution(run_id)
        return row is not None and row.status == "queued"

    await until(requeued, 60)
    history = [h.event for h in await store.list_history(run_id)]
    assert "owner_died" in history

    # A late completion from the dead worker's id is refused and changes nothing.
    late = await http.post(
        f"/internal/executions/{run_id}/complete",
        json={"worker_id": old.worker_id, "result": {"zombie": True}},
    )
    assert late.status_code == 409, late.text
    row = await store.get_execution(run_id)
    assert row is not None and row.status == "queued" and row.result is None

    (tmp_path / "crash.go").touch()
    second = sdk_workers.start(WORKER, deployment_id="dep-k", port=first.port, extra=extra)
    result = await client.wait_for_result(run_id, timeout=90)
    assert result["pid"] == second.proc.pid
    assert _count(tmp_path, "crash_one") == 1  # recorded before the kill: replayed, not run
    assert result["one"] == 1 and result["two"] == 1 and result["total"] == 6
    new = await _sdk_worker(store)
    assert new.worker_id != old.worker_id
    assert old.worker_id not in {w.worker_id for w in await store.list_workers()}

    # The first attempt's owner, now gone, cannot fail it either.
    late_fail = await http.post(
        f"/internal/executions/{run_id}/fail", json={"worker_id": old.worker_id, "error": "x"}
    )
    assert late_fail.status_code == 409
    final = await store.get_execution(run_id)
    assert final is not None and final.status == "completed"
    assert final.deployment_id == "dep-k"


async def test_a_run_held_by_an_sdk_worker_survives_a_server_crash(
    sdk_workers: SdkWorkers, client: PolosClient, polos_server: ServerProcess, tmp_path: Path
) -> None:
    worker = sdk_workers.start(WORKER, extra={"SDK_TEST_DIR": str(tmp_path)})
    store = client.store
    await _sdk_worker(store)
    async with httpx.AsyncClient(base_url=polos_server.url, timeout=30) as http:
        run_id = await _run(http, "sdkc_steps", {"tag": "srv", "hold": True, "n": 3})

    async def step_one_recorded() -> bool:
        return await store.get_step(run_id, "one") is not None

    await until(step_one_recorded, 60)

    # Inside step two, between calls to the server (one cut short would fail the step:
    # the SDK does not retry its step calls).
    async def waiting() -> bool:
        return (tmp_path / "srv.waiting").exists()

    await until(waiting, 60)
    polos_server.kill()  # SIGKILL: no goodbye to anyone
    again = start_polos_server(polos_server.database_url, tmp_path, port=polos_server.port)
    try:
        (tmp_path / "srv.go").touch()
        # The worker still runs it: the new server learns who holds it and renews the
        # lease, and the worker's completion (retried while the server was down) lands.
        try:
            result = await client.wait_for_result(run_id, timeout=90)
        except Exception as exc:
            logs = f"server:\n{again.output()}\nworker:\n{worker.output()}"
            raise AssertionError(f"{exc}\n{logs}") from exc
        assert result["pid"] == worker.proc.pid and result["total"] == 9
        assert _count(tmp_path, "srv_one") == 1 and _count(tmp_path, "srv_two") == 1
        history = [h.event for h in await store.list_history(run_id)]
        assert history.count("claimed") == 1, history  # never pushed a second time
    finally:
        again.stop()


async def test_cancelling_a_run_reaches_its_sdk_worker(
    sdk_workers: SdkWorkers, client: PolosClient, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    sdk_workers.start(WORKER, extra={"SDK_TEST_DIR": str(tmp_path)})
    store = client.store
    await _sdk_worker(store)
    via_api = await _run(http, "sdkc_cancel", {"tag": "api"})
    via_db = await _run(http, "sdkc_cancel", {"tag": "db"})

    async def started() -> bool:
        return all([await store.get_step(r, "started") for r in (via_api, via_db)])

    await until(started, 60)
    # Through the server: it tells the worker at once. Straight on the database (our
    # client in this process, as the CLI would): the server learns it on its next read.
    response = await http.post(f"/api/v1/executions/{via_api}/cancel")
    assert response.status_code == 200, response.text
    assert await client.cancel_execution(via_db) is True

    async def cancelled_there() -> bool:
        return _count(tmp_path, "api_cancelled") == 1 and _count(tmp_path, "db_cancelled") == 1

    await until(cancelled_there, 30)
    for run_id in (via_api, via_db):
        row = await store.get_execution(run_id)
        assert row is not None and row.status == "cancelled"


async def test_an_sdk_worker_and_one_of_ours_serve_one_project(
    sdk_workers: SdkWorkers, polos: Polos, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    sdk = sdk_workers.start(WORKER, extra={"SDK_TEST_DIR": str(tmp_path)})
    store = await polos_store(polos)
    await _sdk_worker(store)
    sdk_run = await _run(http, "sdkc_steps", {"tag": "mixed", "n": 1})
    our_run = await _run(http, "sdkc_ours", {"n": 41})
    sdk_result = await polos.client.wait_for_result(sdk_run, timeout=60)
    our_result = await polos.client.wait_for_result(our_run, timeout=60)
    assert sdk_result["pid"] == sdk.proc.pid and sdk_result["total"] == 3
    assert our_result == {"ours": 42, "pid": os.getpid()}
    # Both kinds of worker are listed side by side; ours was not taken for dead.
    await asyncio.sleep(1)
    workers = await store.list_workers()
    assert {bool(w.push_url) for w in workers} == {True, False}
    listed = (await http.get("/api/v1/workers")).json()["workers"]
    assert sorted(w["push_endpoint_url"] or "ours" for w in listed) == sorted(["ours", sdk.url])
    [sdk_row] = [w for w in listed if w["push_endpoint_url"]]
    assert sdk_row["online"] is True and "sdkc_steps" in sdk_row["serves"]
    page = await http.get("/workers")
    assert page.status_code == 200 and "Polos SDK worker at" in page.text


async def test_an_sdk_worker_with_an_api_key(
    sdk_workers: SdkWorkers, client: PolosClient, polos_server: ServerProcess, tmp_path: Path
) -> None:
    key, row = new_api_key("default", "sdk-worker", time.time())
    await client.store.create_api_key(row)
    async with httpx.AsyncClient(base_url=polos_server.url, timeout=30) as anonymous:
        refused = await anonymous.post("/api/v1/workers/register", json={})
        assert refused.status_code == 401
    # Not in local mode: the SDK sends the key on every call, and only then is served.
    sdk_workers.start(WORKER, api_key=key, extra={"SDK_TEST_DIR": str(tmp_path)})
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=polos_server.url, headers=headers, timeout=30) as http:
        run_id = await _run(http, "sdkc_steps", {"tag": "keyed", "n": 2})
    result = await client.wait_for_result(run_id, timeout=60)
    assert result["total"] == 6


async def polos_store(polos: Polos) -> Store:
    from polos.runtime.client import store_of

    return await store_of(polos)
