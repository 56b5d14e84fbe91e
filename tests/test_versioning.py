"""Changing code under running executions, in one process, on both backends:
``ctx.patched`` (recorded answers, old runs keep the old branch, new runs take
the new one), ``ctx.deprecate_patch``, a renamed step key reported in the run's
history, and ``ExecutionInfo.deployment_served``. The same with real worker
processes of two versions: tests/test_versioning_processes.py."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from polos import PatchRemovedError, Polos, PolosClient, Worker
from toolkit.waiting import until
from version_workflows import (
    CODE,
    ver_patch_in_branch,
    ver_patch_twice,
    ver_patch_unawaited,
    ver_pricing,
    ver_rename,
)


def new_run(tmp_path: Path, code: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    CODE[tag] = code
    return {"tag": tag, "log": str(tmp_path / f"{tag}.log")}


def lines(p: dict[str, str]) -> list[str]:
    path = Path(p["log"])
    return path.read_text().splitlines() if path.exists() else []


async def parked(polos: Polos, execution_id: str) -> None:
    async def waiting() -> bool:
        return (await polos.get_execution(execution_id)).status == "waiting"

    await until(waiting, 10, f"{execution_id} to wait")


async def approve(polos: Polos, p: dict[str, str], execution_id: str, topic: str) -> None:
    await polos.publish(f"ver/{p['tag']}/{execution_id}", {"ok": True}, topic)


async def test_patched_keeps_old_runs_on_the_old_branch(polos: Polos, tmp_path: Path) -> None:
    old = new_run(tmp_path, "v1")
    old_handle = await ver_pricing.invoke(polos, old)
    await parked(polos, old_handle.id)
    CODE[old["tag"]] = "v2"  # the code changes while the run waits
    new = new_run(tmp_path, "v2")
    new_handle = await ver_pricing.invoke(polos, new)
    await parked(polos, new_handle.id)
    await approve(polos, old, old_handle.id, "approval")
    await approve(polos, new, new_handle.id, "approval")
    old_result = await old_handle.result(timeout=10)
    new_result = await new_handle.result(timeout=10)
    assert old_result == {"price": "price", "charged": "charge:price", "code": "v2"}
    assert new_result == {"price": "price_v2", "charged": "charge:price_v2", "code": "v2"}
    assert lines(old) == ["price", "charge:price"], "no step ran twice"
    assert lines(new) == ["price_v2", "charge:price_v2"]
    # The answers are recorded as marker steps, and each run replayed without a mismatch.
    old_info, new_info = (
        await polos.get_execution(old_handle.id),
        await polos.get_execution(new_handle.id),
    )
    assert {s.step_key: s.output for s in old_info.steps if s.kind == "patch"} == {
        "patched:new-pricing": False
    }
    assert {s.step_key: s.output for s in new_info.steps if s.kind == "patch"} == {
        "patched:new-pricing": True
    }
    for info in (old_info, new_info):
        assert "replay_mismatch" not in [h.event for h in info.history]


async def test_a_recorded_answer_never_changes(polos: Polos, tmp_path: Path) -> None:
    # p1 is asked before the wait (True, recorded); on the replay after the wait
    # the nap lies recorded ahead of p1, yet p1 stays True: it was recorded.
    result = await ver_patch_twice.run(polos, new_run(tmp_path, "v2"), timeout=10)
    assert result == [True, True]


async def test_deprecate_patch_accepts_new_runs_and_refuses_old_ones(
    polos: Polos, tmp_path: Path
) -> None:
    old, new = new_run(tmp_path, "v1"), new_run(tmp_path, "v2")
    old_handle = await ver_pricing.invoke(polos, old)
    new_handle = await ver_pricing.invoke(polos, new)
    await parked(polos, old_handle.id)
    await parked(polos, new_handle.id)
    CODE[old["tag"]] = CODE[new["tag"]] = "v3"  # the old branch is removed
    newest = new_run(tmp_path, "v3")  # and a run starts on that code
    newest_handle = await ver_pricing.invoke(polos, newest)
    await parked(polos, newest_handle.id)
    await approve(polos, new, new_handle.id, "approval")
    await approve(polos, old, old_handle.id, "approval")
    await approve(polos, newest, newest_handle.id, "approval")
    assert (await new_handle.result(timeout=10))["charged"] == "charge:price_v2"
    # It replayed past deprecate_patch after its wait: its own marker says new code.
    assert (await newest_handle.result(timeout=10))["charged"] == "charge:price_v2"
    assert lines(newest) == ["price_v2", "charge:price_v2"]
    with pytest.raises(Exception) as failed:
        await old_handle.result(timeout=10)
    assert "PatchRemovedError" in str(failed.value) or isinstance(failed.value, PatchRemovedError)
    assert "new-pricing" in str(failed.value)
    assert lines(old) == ["price"], "the old run did not charge on code that lost its branch"


async def test_ctx_patched_used_without_await_is_an_error(polos: Polos, tmp_path: Path) -> None:
    with pytest.raises(Exception) as failed:
        await ver_patch_unawaited.run(polos, new_run(tmp_path, "v2"), timeout=10)
    assert "must be awaited" in str(failed.value)


async def test_ctx_patched_inside_a_parallel_branch_is_an_error(
    polos: Polos, tmp_path: Path
) -> None:
    with pytest.raises(Exception) as failed:
        await ver_patch_in_branch.run(polos, new_run(tmp_path, "v2"), timeout=10)
    assert "inside a parallel branch" in str(failed.value)


async def test_a_renamed_step_key_is_reported_in_the_history(polos: Polos, tmp_path: Path) -> None:
    p = new_run(tmp_path, "v1")
    handle = await ver_rename.invoke(polos, p)
    await parked(polos, handle.id)
    CODE[p["tag"]] = "v2"
    await approve(polos, p, handle.id, "go")
    assert await handle.result(timeout=10) == "done"
    info = await polos.get_execution(handle.id)
    [entry] = [h for h in info.history if h.event == "replay_mismatch"]
    assert entry.detail is not None
    assert entry.detail["unconsumed"] == ["notify"]
    assert entry.detail["where"] == "completed"
    assert "renamed" in entry.detail["hint"]
    assert lines(p) == ["notify", "notify"], "the renamed step ran again (what is reported)"


async def test_a_run_whose_deployment_no_worker_serves_says_so(
    database_url: str, tmp_path: Path
) -> None:
    p = new_run(tmp_path, "v1")
    async with PolosClient(database_url=database_url, deployment_id="blue") as client:
        handle = await client.invoke("ver_pricing", p)
        info = await client.get_execution(handle.id)
        assert (info.deployment_id, info.deployment_served) == ("blue", False)
        green = Worker(client, deployment_id="green", workflows=[ver_pricing], hold_seconds=0)
        await green.start()
        try:
            await _still_queued(client, handle.id)
            [listed] = [e for e in await client.list_executions() if e.id == handle.id]
            assert listed.deployment_served is False
            # A worker told to serve blue as well takes it.
            both = Worker(
                client,
                deployment_id="green",
                serve_deployments=["blue"],
                workflows=[ver_pricing],
                hold_seconds=0,
            )
            await both.start()
            try:
                await parked_client(client, handle.id)
                info = await client.get_execution(handle.id)
                assert (info.deployment_id, info.deployment_served) == ("blue", True)
            finally:
                await both.stop()
            info = await client.get_execution(handle.id)
            assert info.status == "waiting" and info.deployment_served is False
        finally:
            await green.stop()


async def _still_queued(client: PolosClient, execution_id: str) -> None:
    import asyncio

    await asyncio.sleep(0.5)  # several claims of the green worker
    assert (await client.get_execution(execution_id)).status == "queued"


async def parked_client(client: PolosClient, execution_id: str) -> Any:
    async def waiting() -> bool:
        return (await client.get_execution(execution_id)).status == "waiting"

    return await until(waiting, 10, f"{execution_id} to wait")


def test_serve_deployments_must_be_a_list() -> None:
    with pytest.raises(TypeError, match=r"serve_deployments=\['v1'\]"):
        Worker(database_url="sqlite:///unused.db", serve_deployments="v1")


async def test_the_http_api_says_when_no_worker_serves_a_run(
    database_url: str, tmp_path: Path
) -> None:
    from server_kit import serving

    async with PolosClient(database_url=database_url, deployment_id="blue") as client:
        handle = await client.invoke("ver_pricing", new_run(tmp_path, "v1"))
        async with serving(database_url) as s:
            one = (await s.http.get(f"/api/v1/executions/{handle.id}")).json()
            assert (one["deployment_id"], one["deployment_served"]) == ("blue", False)
            listed = (await s.http.get("/api/v1/executions")).json()["executions"]
            assert [e["deployment_served"] for e in listed if e["execution_id"] == handle.id] == [
                False
            ]
            blue = Worker(client, deployment_id="blue", workflows=[ver_pricing], hold_seconds=0)
            await blue.start()
            try:
                await parked_client(client, handle.id)
                one = (await s.http.get(f"/api/v1/executions/{handle.id}")).json()
                assert (one["status"], one["deployment_served"]) == ("waiting", True)
            finally:
                await blue.stop()


def test_only_live_workers_count_as_serving() -> None:
    import os
    import subprocess
    import sys

    from polos.runtime.deployments import LIVE_WITHIN_SECONDS, served_deployments
    from polos.runtime.liveness import HOSTNAME
    from polos.store import WorkerRow

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = 1_000_000.0
    served = served_deployments(
        [
            WorkerRow("a", HOSTNAME, os.getpid(), now, now - 5, "v2", ("v1",)),
            WorkerRow("b", "elsewhere", 1, now, now - LIVE_WITHIN_SECONDS - 1, "v0"),
            WorkerRow("c", HOSTNAME, gone.pid, now, now, "v9", ("*",)),
        ],
        now,
    )
    assert served.serves("v2") and served.serves("v1")
    assert not served.serves("v0"), "silent for too long"
    assert not served.serves("v9") and not served.serves("v3"), "its process is gone"
    anyone = served_deployments([WorkerRow("d", "h", 1, now, now, "v2", ("*",))], now)
    assert anyone.serves("v3")
