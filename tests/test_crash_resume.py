"""SIGKILL a real worker that holds a parent its child's completion claimed.

The child's completion claims the held parent for its worker in the same
transaction (``Store.complete_and_resume``). That claim is an ordinary one:
when the worker dies afterwards, the parent's lease runs out, another worker
takes it over with the next attempt, and nothing recorded runs again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from polos import PolosClient
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import wait_until


async def test_kill_after_a_parent_was_claimed_back_by_its_childs_completion(
    database_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path, POLOS_TEST_LEASE="2")
        handle = await client.invoke("crash_resumed_parent", {"slow": 60.0})

        def after_started() -> bool:
            return StepLog.read(log_path).started("after") > 0

        await asyncio.to_thread(wait_until, after_started, 20, "the parent's slow step")
        worker.kill()
        info = await client.get_execution(handle.id)
        claims = [(e.attempt, e.detail) for e in info.history if e.event == "claimed"]
        assert len(claims) == 2 and claims[1][0] == 2
        assert (claims[1][1] or {}).get("eager") is True, "claimed by its child's completion"
        assert info.status == "running"

        restarted = WorkerProcess(database_url, log_path)
        assert await handle.result(client, timeout=120) == 1
        restarted.terminate()
        info = await client.get_execution(handle.id)
        assert [e.attempt for e in info.history if e.event == "claimed"][-1] == 3
        log = StepLog.read(log_path)
        assert len(log.starts[(handle.id, "before")]) == 1
        assert len(log.starts[(handle.id, "after")]) == 2, "killed once, finished once"
        [kid] = [
            e
            for e in await client.list_executions(workflow_id="crash_many_steps")
            if e.parent_execution_id == handle.id
        ]
        assert len(log.starts[(kid.id, "s0")]) == 1, "the child did not run again"
        assert [s.step_key for s in info.steps] == ["before", "kid", "after"]
