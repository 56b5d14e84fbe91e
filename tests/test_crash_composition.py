"""SIGKILL real workers while parents wait on children and runs wait on events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from polos import EventData, PolosClient, events
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import wait_for_status, wait_until


def _started(log_path: Path, key: str) -> object:
    return lambda: StepLog.read(log_path).started(key) > 0


async def test_kill_during_child_execution(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "steps.log"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path)
        handle = await client.invoke("crash_parent", {"slow": 0.3})
        await asyncio.to_thread(wait_until, _started(log_path, "s1"), 20, "children to be half way")
        worker.kill()
        restarted = WorkerProcess(database_url, log_path)
        assert await handle.result(client, timeout=30) == 9
        restarted.terminate()
        log = StepLog.read(log_path)
        assert len(log.starts[(handle.id, "before")]) == 1
        assert len(log.starts[(handle.id, "after")]) == 1
        parent = await client.get_execution(handle.id)
        kids = [
            e
            for e in await client.list_executions(workflow_id="crash_many_steps")
            if e.parent_execution_id == handle.id
        ]
        assert len(kids) == 3 and all(k.status == "completed" for k in kids)
        for kid in kids:
            info = await client.get_execution(kid.id)
            for s in info.steps:
                later = [
                    at
                    for _, at in log.starts[(kid.id, s.step_key)]
                    if at > s.created_at.timestamp()
                ]
                assert not later, f"{s.step_key} of a child ran again after it was recorded"
        assert [s.step_key for s in parent.steps] == ["before", "kids", "after"]


async def test_event_published_while_the_worker_is_dead(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "steps.log"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path)
        handle = await client.invoke("crash_event_waiter", {"topic": "crash.signal"})
        await wait_for_status(client, handle.id, "waiting", timeout=20)
        worker.kill()
        await events.publish(client, "crash.signal", EventData(data={"go": True}))
        restarted = WorkerProcess(database_url, log_path)
        assert await handle.result(client, timeout=20) == {"go": True}
        restarted.terminate()
        log = StepLog.read(log_path)
        assert len(log.starts[(handle.id, "before")]) == 1
