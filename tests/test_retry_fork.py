"""Retry, fork and bulk retry of runs through the client, on both backends.

A retry starts a failed or cancelled run again under the same id: the steps
it recorded replay (never run again), the failed step runs anew, and children
it waited for that failed are retried with it. A fork is a new run reusing
the steps recorded before a given step. Side effects are counted in the step
log (:mod:`toolkit.steplog`), also across a worker SIGKILLed mid-retry.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import retry_workflows  # noqa: F401  (registers the workflows the polos fixture serves)
from polos import PolosClient
from polos.errors import (
    ExecutionNotFoundError,
    ExecutionNotRetryableError,
    InvalidPayloadError,
    UnknownStepKeyError,
    WorkflowFailedError,
)
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import until, wait_for_status, wait_until


@pytest.fixture
def log_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "steps.log"
    monkeypatch.setenv("POLOS_TEST_LOG", str(path))
    return path


def runs_of(log_path: Path, execution_id: str, step_key: str) -> int:
    return len(StepLog.read(log_path).starts[(execution_id, step_key)])


async def test_retry_runs_the_failed_step_onward_only(
    polos: Any, log_path: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    handle = await polos.invoke("retry_flow", {"n": 1, "gate": str(gate)})
    with pytest.raises(WorkflowFailedError, match="gate closed"):
        await polos.wait_for_result(handle.id, timeout=20)
    failed = await polos.get_execution(handle.id)
    assert [(s.step_key, s.error is None) for s in failed.steps] == [("a", True), ("b", False)]

    gate.touch()  # the fix is deployed
    again = await polos.retry_execution(handle.id)
    assert again.id == handle.id  # the same run goes on
    assert await polos.wait_for_result(handle.id, timeout=20) == {"a": 1, "b": 1, "c": 1}
    assert runs_of(log_path, handle.id, "a") == 1  # recorded: replayed, never run again
    assert runs_of(log_path, handle.id, "b") == 2  # failed, then run anew
    assert runs_of(log_path, handle.id, "c") == 1
    info = await polos.get_execution(handle.id)
    events = [h.event for h in info.history]
    assert events.count("failed") == 1 and "retried" in events
    assert events.index("retried") > events.index("failed")
    assert events[-1] == "completed"

    # A completed run is refused, naming its status; an unknown id too.
    with pytest.raises(
        ExecutionNotRetryableError, match="is completed; only a failed or cancelled"
    ):
        await polos.retry_execution(handle.id)
    with pytest.raises(ExecutionNotFoundError):
        await polos.retry_execution("no-such-run")


async def test_a_cancelled_run_is_retried_and_an_active_one_refused(
    polos: Any, log_path: Path
) -> None:
    handle = await polos.invoke("retry_flow", {"n": 3, "slow": 30})
    await asyncio.to_thread(
        wait_until, lambda: runs_of(log_path, handle.id, "c") == 1, 20, "step c to start"
    )
    with pytest.raises(ExecutionNotRetryableError, match="is running"):
        await polos.retry_execution(handle.id)
    assert await polos.cancel_execution(handle.id)
    await wait_for_status(polos, handle.id, "cancelled")
    # The cancelled run goes on from c: c was interrupted (not recorded), so it runs again.
    await polos.retry_execution(handle.id)
    with pytest.raises(ExecutionNotRetryableError, match=r"is (queued|running)"):
        await polos.retry_execution(handle.id)
    await asyncio.to_thread(
        wait_until, lambda: runs_of(log_path, handle.id, "c") == 2, 20, "c to start again"
    )
    await polos.cancel_execution(handle.id)  # c sleeps 30 s: stop it again
    await wait_for_status(polos, handle.id, "cancelled")
    assert runs_of(log_path, handle.id, "a") == 1 and runs_of(log_path, handle.id, "b") == 1


async def test_fork_from_a_middle_step_with_a_new_payload(polos: Any, log_path: Path) -> None:
    source = await polos.invoke("retry_flow", {"n": 1})
    assert await polos.wait_for_result(source.id, timeout=20) == {"a": 1, "b": 1, "c": 1}

    fork = await polos.fork_execution(source.id, from_step="b", payload={"n": 2})
    assert fork.id != source.id and fork.workflow_id == "retry_flow"
    # a replays the source's record (n=1); b and c run anew with the new payload.
    assert await polos.wait_for_result(fork.id, timeout=20) == {"a": 1, "b": 2, "c": 2}
    assert runs_of(log_path, fork.id, "a") == 0
    assert runs_of(log_path, fork.id, "b") == 1 and runs_of(log_path, fork.id, "c") == 1
    assert runs_of(log_path, source.id, "b") == 1  # the source is left as it ended
    info = await polos.get_execution(fork.id)
    forked = [h for h in info.history if h.event == "forked"]
    assert forked and forked[0].detail == {
        "forked_from": source.id,
        "from_step": "b",
        "copied_steps": 1,
    }
    source_info = await polos.get_execution(source.id)
    assert source_info.status == "completed"
    assert [h.detail for h in source_info.history if h.event == "forked"] == [
        {"fork": fork.id, "from_step": "b"}
    ]

    # Without a payload the fork keeps the source's.
    same = await polos.fork_execution(source.id, from_step="c")
    assert await polos.wait_for_result(same.id, timeout=20) == {"a": 1, "b": 1, "c": 1}

    with pytest.raises(UnknownStepKeyError, match=r"no step 'nope'.*'a', 'b', 'c'"):
        await polos.fork_execution(source.id, from_step="nope")
    with pytest.raises(ExecutionNotFoundError):
        await polos.fork_execution("no-such-run", from_step="a")
    with pytest.raises(TypeError, match="from_step"):
        await polos.fork_execution(source.id, from_step="")
    with pytest.raises(InvalidPayloadError, match="retry_flow"):  # checked like an invoke
        await polos.fork_execution(source.id, from_step="b", payload=5)


async def test_a_failed_child_is_retried_with_its_parent(
    polos: Any, log_path: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    handle = await polos.invoke("retry_parent", {"gate": str(gate)})
    with pytest.raises(WorkflowFailedError, match="children failed"):
        await polos.wait_for_result(handle.id, timeout=20)
    tree = await polos.client.store.list_run_tree(handle.id)
    kids = {row.id: row for row in tree if row.id != handle.id}
    [bad] = [k for k, row in kids.items() if row.status == "failed"]
    [good] = [k for k, row in kids.items() if row.status == "completed"]

    gate.touch()
    await polos.retry_execution(handle.id)
    result = await polos.wait_for_result(handle.id, timeout=20)
    assert result == [{"a": 1, "b": 1, "c": 1}, {"a": 2, "b": 2, "c": 2}]
    assert runs_of(log_path, handle.id, "before") == 1
    assert runs_of(log_path, good, "a") == 1 and runs_of(log_path, good, "c") == 1  # not rerun
    assert runs_of(log_path, bad, "a") == 1 and runs_of(log_path, bad, "b") == 2
    child = await polos.get_execution(bad)
    assert child.status == "completed"
    retried = [h.detail for h in child.history if h.event == "retried"]
    assert retried and retried[0]["by"] == handle.id


async def test_a_parent_cancelled_while_waiting_resumes_its_children(
    polos: Any, log_path: Path, tmp_path: Path
) -> None:
    gate, hold = tmp_path / "gate", tmp_path / "hold"
    gate.touch()
    hold.touch()  # the children's step c sleeps while it exists
    handle = await polos.invoke("retry_parent", {"gate": str(gate), "slow": 30, "hold": str(hold)})
    kids: list[str] = []

    async def both_in_c() -> bool:
        nonlocal kids
        tree = await polos.client.store.list_run_tree(handle.id)
        kids = [row.id for row in tree if row.id != handle.id]
        return len(kids) == 2 and all(runs_of(log_path, k, "c") == 1 for k in kids)

    await until(both_in_c, 20, "both children to reach c")
    assert await polos.cancel_execution(handle.id)  # the children are cancelled with it
    for k in kids:
        await wait_for_status(polos, k, "cancelled")
    hold.unlink()

    await polos.retry_execution(handle.id)
    result = await polos.wait_for_result(handle.id, timeout=20)
    assert result == [{"a": 1, "b": 1, "c": 1}, {"a": 2, "b": 2, "c": 2}]
    assert runs_of(log_path, handle.id, "before") == 1
    for k in kids:  # same child runs, resumed: a and b replayed, c (interrupted) ran again
        assert (runs_of(log_path, k, "a"), runs_of(log_path, k, "b")) == (1, 1)
        assert runs_of(log_path, k, "c") == 2
    tree = await polos.client.store.list_run_tree(handle.id)
    assert len(tree) == 3  # no new children were started


async def test_retry_failed_in_bulk_by_workflow_window_and_error(
    polos: Any, log_path: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    early = await polos.invoke("retry_flow", {"n": 0, "gate": str(gate)})
    with pytest.raises(WorkflowFailedError):
        await polos.wait_for_result(early.id, timeout=20)
    since = datetime.now(UTC)
    late = [await polos.invoke("retry_flow", {"n": i, "gate": str(gate)}) for i in (1, 2)]
    other = await polos.invoke("retry_other", {"gate": str(gate)})
    for h in [*late, other]:
        with pytest.raises(WorkflowFailedError):
            await polos.wait_for_result(h.id, timeout=20)

    gate.touch()
    assert await polos.retry_failed("retry_flow", error_contains="no such text") == []
    retried = await polos.retry_failed("retry_flow", since=since, error_contains="gate closed")
    assert sorted(h.id for h in retried) == sorted(h.id for h in late)
    for h in late:
        assert (await polos.wait_for_result(h.id, timeout=20))["b"] in (1, 2)
    for h in (early, other):  # outside the window, or another workflow: left failed
        assert (await polos.get_execution(h.id)).status == "failed"
    # Until the time the early one failed: only it.
    retried = await polos.retry_failed(until=since)
    assert [h.id for h in retried] == [early.id]
    assert await polos.wait_for_result(early.id, timeout=20) == {"a": 0, "b": 0, "c": 0}
    with pytest.raises(ValueError, match="until"):
        await polos.retry_failed(since=since, until=since - timedelta(seconds=1))
    with pytest.raises(ValueError, match="limit"):
        await polos.retry_failed(limit=0)


async def test_sigkill_mid_retry_never_reruns_a_recorded_step(
    database_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "steps.log"
    gate = tmp_path / "gate"
    client = PolosClient(database_url=database_url)
    worker = WorkerProcess(database_url, log_path, modules="retry_workflows")
    try:
        handle = await client.invoke("retry_flow", {"n": 5, "gate": str(gate), "slow": 1.5})
        with pytest.raises(WorkflowFailedError):
            await client.wait_for_result(handle.id, timeout=30)
        gate.touch()
        await client.retry_execution(handle.id)
        await asyncio.to_thread(
            wait_until, lambda: runs_of(log_path, handle.id, "c") == 1, 20, "the retry to reach c"
        )
        worker.kill()  # mid-retry: b was recorded by the retry, c is running
        worker = WorkerProcess(database_url, log_path, modules="retry_workflows")
        assert await client.wait_for_result(handle.id, timeout=30) == {"a": 5, "b": 5, "c": 5}
        log = StepLog.read(log_path)
        assert len(log.starts[(handle.id, "a")]) == 1
        assert len(log.starts[(handle.id, "b")]) == 2  # failed once, recorded by the retry
        assert len(log.starts[(handle.id, "c")]) == 2  # interrupted by the kill
        info = await client.get_execution(handle.id)
        for s in info.steps:  # nothing ran after it was recorded
            later = [
                at for _, at in log.starts[(handle.id, s.step_key)] if at > s.created_at.timestamp()
            ]
            assert not later, f"step {s.step_key} ran again after it was recorded"
        assert {"retried", "owner_died", "completed"} <= {h.event for h in info.history}
    finally:
        worker.stop()
        await client.close()
