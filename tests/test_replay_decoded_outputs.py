"""A worker reuses the step outputs it decoded when it replays the same run
again (``polos.engine.decoded_outputs``, used by the agent loop for its LLM
responses and tool outcomes). These tests check, on both backends and through
the public API, that reuse never changes what a run sees: a step redone by a
retry replays its new outcome on the worker that cached the old one, a fork
sees its own steps, and a run finished on another worker process gets the
same answer.

Every run here replays after each tool call (``hold_seconds=0``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import replay_agents as ra
from polos import Polos, PolosClient
from polos.testing import FakeOpenAIServer, Turn
from toolkit.processes import WorkerProcess
from toolkit.waiting import until, wait_for_status

WORKFLOWS = [ra.replayer, ra.gated_double, ra.held_square, ra.approved_echo]


@pytest.fixture
async def replaying(database_url: str) -> AsyncIterator[Polos]:
    async with Polos(
        database_url=database_url,
        workflows=WORKFLOWS,
        hold_seconds=0,
        lease_seconds=5.0,
        poll_interval=0.05,
        shutdown_grace_seconds=0.5,
    ) as polos:
        yield polos


async def pending_approval(polos: Polos, execution_id: str) -> Any:
    async def found() -> Any:
        waiting = [s for s in await polos.list_suspended() if s.execution_id == execution_id]
        return waiting[0] if waiting else None

    return await until(found, 20, "the approval to be asked for")


def tool_results(result: Any) -> list[tuple[str, Any, bool]]:
    return [(c.name, c.result, c.is_error) for c in result.tool_calls]


async def test_a_retried_or_forked_run_never_replays_an_outcome_cached_before(
    replaying: Polos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv("POLOS_TEST_GATE", str(gate))
    turns = [
        Turn.call("gated_double", {"n": 21}),  # fails: the gate is closed
        Turn.call("approved_echo", {"n": 5}),  # parks the run for a person
        Turn.reply("fork done"),
        Turn.reply("done"),
    ]
    with FakeOpenAIServer(turns) as server:
        ra.point_at(server.base_url)
        handle = await ra.replayer.invoke(replaying, "go")
        await pending_approval(replaying, handle.id)
        # Parked after replaying llm_1 and tools_1 (the failed outcome) on this
        # worker; cancelled while parked, so the worker still holds them.
        assert await replaying.cancel_execution(handle.id)
        await wait_for_status(replaying, handle.id, "cancelled")
        gate.touch()

        fork = await replaying.fork_execution(handle.id, "tools_1")
        forked = await replaying.wait_for_result(fork.id, timeout=30)
        assert fork.id != handle.id and forked.text == "fork done"
        assert tool_results(forked) == [("gated_double", json.dumps({"doubled": 42}), False)]

        # The retry redoes tools_1 (its child failed): the run replays llm_1 as
        # recorded and tools_1 with its new outcome, not the one replayed before.
        await replaying.retry_execution(handle.id)
        pending = await pending_approval(replaying, handle.id)
        await replaying.resume("ag_replayer", handle.id, pending.step_key, {"approved": True})
        result = await replaying.wait_for_result(handle.id, timeout=30)
        assert result.text == "done"
        assert tool_results(result) == [
            ("gated_double", json.dumps({"doubled": 42}), False),
            ("approved_echo", "5", False),
        ]
        # What the model was told after the retry: the new outcome of tools_1.
        assert len(server.requests) == 4, "a recorded model call was made again"
        told = [m for m in server.requests[3].body["messages"] if m.get("role") == "tool"]
        assert json.loads(str(told[0]["content"])) == {"doubled": 42}


async def test_a_run_replayed_on_another_worker_process_gets_the_same_answer(
    database_url: str, tmp_path: Path
) -> None:
    release = tmp_path / "release"  # the third tool call waits for this file
    turns = [
        Turn.call("held_square", {"n": 1}),
        Turn.call("held_square", {"n": 2}),
        Turn.call("held_square", {"n": -3}),
        Turn.reply("squares done"),
    ]
    env = {"POLOS_TEST_RELEASE": str(release)}
    with FakeOpenAIServer(turns) as server:
        ra.point_at(server.base_url)
        env["POLOS_TEST_LLM_URL"] = server.base_url
        async with Polos(
            database_url=database_url,
            workflows=WORKFLOWS,
            hold_seconds=0,
            poll_interval=0.05,
            shutdown_grace_seconds=0.5,
        ) as first:
            handle = await ra.replayer.invoke(first, "square them")

            async def third_tool_started() -> bool:
                tools = await first.list_executions(workflow_id="held_square")
                return len(tools) == 3

            # Two tool calls replayed (and their outputs cached) on this worker.
            await until(third_tool_started, 30, "the third tool call to start")
        # This worker has stopped; another process replays the run from the top.
        worker = WorkerProcess(database_url, tmp_path / "steps.log", modules="replay_agents", **env)
        try:
            release.touch()
            async with PolosClient(database_url=database_url) as client:
                result = await asyncio.wait_for(client.wait_for_result(handle.id), 60)
        finally:
            worker.terminate()
    assert result.text == "squares done"
    assert tool_results(result) == [
        ("held_square", json.dumps({"n": n, "square": n * n}), False) for n in (1, 2, -3)
    ]
    assert len(server.requests) == 4, "a recorded model call was made again"
