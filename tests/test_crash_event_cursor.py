"""A run's event position survives worker crashes.

A wait receives the first event on its topic published after the run was
submitted and after the events earlier waits of the run received on that
topic. These tests SIGKILL the worker between a recorded step and the wait,
publish while no worker holds the run, and check that the restarted run gets
exactly the events it would have got without the crash, each once, in order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from polos import EventData, PolosClient, events
from toolkit.processes import WorkerProcess
from toolkit.steplog import StepLog
from toolkit.waiting import wait_for_status, wait_until

MODULES = "event_cursor_workflows"
# A short lease, so that the restarted worker takes over the killed one's run soon.


def _started(log_path: Path, key: str) -> object:
    return lambda: StepLog.read(log_path).started(key) > 0


async def _publish(client: PolosClient, topic: str, n: int) -> None:
    await events.publish(client, topic, EventData(data={"n": n}))


async def test_events_published_while_a_claimed_run_is_dead_reach_its_waits(
    database_url: str, tmp_path: Path
) -> None:
    log_path, hold = tmp_path / "steps.log", tmp_path / "hold"
    hold.touch()
    topic = "cursor.dead"
    async with PolosClient(database_url=database_url) as client:
        await _publish(client, topic, 0)  # before the run: never delivered to it
        worker = WorkerProcess(database_url, log_path, modules=MODULES, POLOS_TEST_LEASE="2")
        handle = await client.invoke("cursor_two_waits", {"topic": topic, "hold_before": str(hold)})
        # Claimed and inside a step, before any wait: then the worker dies.
        await asyncio.to_thread(wait_until, _started(log_path, "stall"), 20, "the stall step")
        worker.kill()
        hold.unlink()
        await _publish(client, topic, 1)
        await _publish(client, topic, 2)
        restarted = WorkerProcess(database_url, log_path, modules=MODULES)
        try:
            # The first wait gets the first event, the second wait the next one.
            assert await handle.result(client, timeout=30) == [{"n": 1}, {"n": 2}]
        finally:
            restarted.stop()


async def test_a_replayed_wait_keeps_its_event_and_the_next_wait_gets_the_next(
    database_url: str, tmp_path: Path
) -> None:
    log_path, hold = tmp_path / "steps.log", tmp_path / "hold"
    hold.touch()
    topic = "cursor.replay"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path, modules=MODULES, POLOS_TEST_LEASE="2")
        handle = await client.invoke(
            "cursor_two_waits", {"topic": topic, "hold_between": str(hold)}
        )
        await wait_for_status(client, handle.id, "waiting", timeout=20)
        await _publish(client, topic, 1)  # resolves the first wait (recorded)
        await asyncio.to_thread(wait_until, _started(log_path, "between"), 20, "the between step")
        worker.kill()
        hold.unlink()
        await _publish(client, topic, 2)  # while no worker holds the run
        restarted = WorkerProcess(database_url, log_path, modules=MODULES)
        try:
            # The replay returns the recorded first event; the second wait gets event 2.
            assert await handle.result(client, timeout=30) == [{"n": 1}, {"n": 2}]
        finally:
            restarted.stop()
        info = await client.get_execution(handle.id)
        assert [s.step_key for s in info.steps] == ["stall", "first", "between", "second"]
        assert len(StepLog.read(log_path).starts[(handle.id, "stall")]) == 1


async def test_two_waits_on_one_topic_get_two_events_without_a_crash(
    database_url: str, tmp_path: Path
) -> None:
    """Both events already published when the run reaches its waits: one each."""
    log_path, hold = tmp_path / "steps.log", tmp_path / "hold"
    hold.touch()
    topic = "cursor.both"
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path, modules=MODULES, POLOS_TEST_LEASE="2")
        try:
            handle = await client.invoke(
                "cursor_two_waits", {"topic": topic, "hold_before": str(hold)}
            )
            await asyncio.to_thread(wait_until, _started(log_path, "stall"), 20, "the stall step")
            await _publish(client, topic, 1)
            await _publish(client, topic, 2)
            hold.unlink()
            assert await handle.result(client, timeout=30) == [{"n": 1}, {"n": 2}]
        finally:
            worker.stop()


async def test_parallel_waits_on_one_topic_get_different_events(
    database_url: str, tmp_path: Path
) -> None:
    """Events already there, then events that come while the run waits: one each."""
    log_path, hold = tmp_path / "steps.log", tmp_path / "hold"
    hold.touch()
    async with PolosClient(database_url=database_url) as client:
        worker = WorkerProcess(database_url, log_path, modules=MODULES)
        try:
            ready = await client.invoke(
                "cursor_parallel_waits", {"topic": "cursor.ready", "hold_before": str(hold)}
            )
            await asyncio.to_thread(wait_until, _started(log_path, "stall"), 20, "the stall step")
            await _publish(client, "cursor.ready", 1)
            await _publish(client, "cursor.ready", 2)
            hold.unlink()
            assert await ready.result(client, timeout=30) == [{"n": 1}, {"n": 2}]

            later = await client.invoke("cursor_parallel_waits", {"topic": "cursor.later"})
            await wait_for_status(client, later.id, "waiting", timeout=20)
            await _publish(client, "cursor.later", 1)
            await _publish(client, "cursor.later", 2)
            assert await later.result(client, timeout=30) == [{"n": 1}, {"n": 2}]
        finally:
            worker.stop()
