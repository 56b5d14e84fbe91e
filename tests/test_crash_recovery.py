"""SIGKILL real worker processes mid-step; the restarted worker finishes the runs.

Rules checked: a recorded step never runs again; the interrupted step may;
the result is the same; a restarted process resumes within 2 seconds
(dead-pid detection, not the 30 s lease); timers that came due while no
worker ran fire after the restart.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from polos import PolosClient
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import wait_for_status, wait_until


def started(log_path: Path, key: str, count: int = 1) -> object:
    return lambda: StepLog.read(log_path).started(key) >= count


def assert_no_recorded_step_ran_again(log: StepLog, execution_id: str, steps: list[object]) -> None:
    for s in steps:
        recorded_at = s.created_at.timestamp()  # type: ignore[attr-defined]
        later = [at for _, at in log.starts[(execution_id, s.step_key)] if at > recorded_at]  # type: ignore[attr-defined]
        assert not later, f"step {s.step_key} ran again after it was recorded"  # type: ignore[attr-defined]


async def test_sigkill_mid_step_then_restart_finishes(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "steps.log"
    client = PolosClient(database_url=database_url)
    try:
        worker = WorkerProcess(database_url, log_path)
        handle = await client.invoke("crash_order", {"slow": 1.5})
        await asyncio.to_thread(
            wait_until, started(log_path, "send_email"), 20, "send_email to start"
        )
        worker.kill()

        restarted = WorkerProcess(database_url, log_path)
        result = await handle.result(client, timeout=30)
        resumed_at = StepLog.read(log_path).starts[(handle.id, "send_email")][-1][1]
        restarted.terminate()

        assert result == {"order": "validate", "payment": "charge", "status": "completed"}
        log = StepLog.read(log_path)
        assert len(log.starts[(handle.id, "validate")]) == 1
        assert len(log.starts[(handle.id, "charge")]) == 1
        assert len(log.starts[(handle.id, "send_email")]) == 2  # interrupted, so it ran again
        assert resumed_at - restarted.ready_at < 2.0, "recovery must not wait out the lease"
        info = await client.get_execution(handle.id)
        assert info.status == "completed"
        assert {e.event for e in info.history} >= {"created", "claimed", "owner_died", "completed"}
        assert_no_recorded_step_ran_again(log, handle.id, info.steps)
    finally:
        await client.close()


@pytest.mark.slow
async def test_repeated_random_kills_lose_nothing(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "steps.log"
    rng = random.Random(7)
    client = PolosClient(database_url=database_url)
    try:
        worker = WorkerProcess(database_url, log_path)
        handles = [
            await client.invoke(
                "crash_many_steps", {"steps": 8, "step_seconds": rng.uniform(0.02, 0.1)}
            )
            for _ in range(20)
        ]
        for _ in range(4):
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            worker.kill()
            worker = WorkerProcess(database_url, log_path)
        results = [await h.result(client, timeout=60) for h in handles]
        worker.terminate()

        assert results == [8] * len(handles)
        log = StepLog.read(log_path)
        for h in handles:
            info = await client.get_execution(h.id)
            assert [s.step_key for s in sorted(info.steps, key=lambda s: int(s.step_key[1:]))] == [
                f"s{i}" for i in range(8)
            ]
            assert_no_recorded_step_ran_again(log, h.id, info.steps)
    finally:
        await client.close()


async def test_timer_due_while_down_fires_after_restart(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "steps.log"
    client = PolosClient(database_url=database_url)
    try:
        worker = WorkerProcess(database_url, log_path)
        handle = await client.invoke("crash_sleeper", {"seconds": 1.0})
        await asyncio.to_thread(wait_until, started(log_path, "before"), 20, "the first step")
        await wait_for_status(client, handle.id, "waiting")
        worker.kill()
        await asyncio.sleep(1.5)  # the timer comes due while no worker runs

        restarted = WorkerProcess(database_url, log_path)
        assert await handle.result(client, timeout=10) == "woke"
        after_at = StepLog.read(log_path).starts[(handle.id, "after")][0][1]
        restarted.terminate()
        assert after_at - restarted.ready_at < 2.0
        assert len(StepLog.read(log_path).starts[(handle.id, "before")]) == 1
    finally:
        await client.close()


async def test_sigterm_hands_running_work_back(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "steps.log"
    client = PolosClient(database_url=database_url)
    try:
        worker = WorkerProcess(database_url, log_path, POLOS_TEST_GRACE="5")
        handle = await client.invoke("crash_many_steps", {"steps": 50, "step_seconds": 0.05})
        await asyncio.to_thread(wait_until, started(log_path, "s3"), 20, "a few steps")
        began = time.monotonic()
        code = worker.terminate()
        assert code == 0
        assert time.monotonic() - began < 5, "graceful stop should not wait for the whole run"
        info = await client.get_execution(handle.id)
        assert info.status == "queued"  # handed back at a step boundary
        assert "released" in [e.event for e in info.history]

        restarted = WorkerProcess(database_url, log_path)
        assert await handle.result(client, timeout=30) == 50
        restarted.terminate()
        log = StepLog.read(log_path)
        assert all(len(log.starts[(handle.id, f"s{i}")]) == 1 for i in range(50))
    finally:
        await client.close()
