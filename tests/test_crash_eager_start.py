"""SIGKILL a worker while runs it started eagerly are in flight.

A run submitted by a process whose worker serves it (an embedded invoke, a
child started by a running parent) is inserted already claimed by that
worker (see polos.store.eager). Rules checked: its lease is an ordinary
lease, so when that worker dies another worker takes the run over and
replays it; a step recorded before the kill never runs again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from polos import PolosClient
from polos.store import HistoryRow
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import wait_until


def _started(log_path: Path, key: str) -> object:
    return lambda: StepLog.read(log_path).started(key) >= 1


def _claims(history: list[HistoryRow]) -> list[dict[str, object]]:
    return [orjson.loads(h.detail or "{}") for h in history if h.event == "claimed"]


async def _assert_no_recorded_step_ran_again(
    client: PolosClient, log: StepLog, execution_id: str
) -> None:
    for s in await client.store.list_steps(execution_id):
        later = [at for _, at in log.starts[(execution_id, s.step_key)] if at > s.created_at]
        assert not later, f"{s.step_key} of {execution_id} ran again after it was recorded"


async def test_a_run_its_own_worker_started_is_replayed_by_another_after_a_crash(
    database_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(
            database_url,
            log_path,
            POLOS_TEST_INVOKE='crash_many_steps {"steps": 4, "step_seconds": 0.3}',
        )
        await asyncio.to_thread(
            wait_until, lambda: "invoked " in worker.output(), 20, "the worker's own invoke"
        )
        run_id = worker.output().split("invoked ", 1)[1].split()[0]
        await asyncio.to_thread(wait_until, _started(log_path, "s1"), 20, "the run's second step")
        worker.kill()

        restarted = WorkerProcess(database_url, log_path)
        assert await client.wait_for_result(run_id, timeout=30) == 4
        restarted.terminate()

        history = await client.store.list_history(run_id)
        first, *later = _claims(history)
        assert first == {"owner": first["owner"], "eager": True}, "started at its insert"
        assert f"-{worker.pid}-" in str(first["owner"])
        assert later and all("eager" not in c for c in later), "taken over by a claim"
        log = StepLog.read(log_path)
        assert len(log.starts[(run_id, "s0")]) == 1
        await _assert_no_recorded_step_ran_again(client, log, run_id)


async def test_children_a_parent_started_eagerly_are_replayed_after_a_crash(
    database_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path)
        handle = await client.invoke("crash_parent", {"slow": 0.3})
        await asyncio.to_thread(wait_until, _started(log_path, "s1"), 20, "children half way")
        worker.kill()

        restarted = WorkerProcess(database_url, log_path)
        assert await handle.result(client, timeout=30) == 9
        restarted.terminate()

        kids = [
            row
            for row in await client.store.list_run_tree(handle.id)
            if row.parent_execution_id == handle.id
        ]
        assert len(kids) == 3 and all(k.status == "completed" for k in kids)
        log = StepLog.read(log_path)
        for kid in kids:
            first, *_ = _claims(await client.store.list_history(kid.id))
            assert first.get("eager") is True, "each child started on its parent's worker"
            assert f"-{worker.pid}-" in str(first["owner"])
            await _assert_no_recorded_step_ran_again(client, log, kid.id)
        assert len(log.starts[(handle.id, "before")]) == 1
        assert len(log.starts[(handle.id, "after")]) == 1
