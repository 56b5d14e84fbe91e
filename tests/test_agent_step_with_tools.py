"""An LLM step that asked for tools commits with their start (issue 17).

The agent loop defers the record of an LLM step whose tool children start
right after it: the step row and the children are one transaction. These
tests check that the run's result and records are what they were, and that a
worker killed between the model's answer and that transaction leaves neither
the step nor the children, so the replay asks the model once more.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

import replay_agents as ra
from polos import Polos, PolosClient
from polos.store.vocabulary import StepKind
from polos.testing import FakeOpenAIServer, Turn
from toolkit.processes import WorkerProcess
from toolkit.waiting import wait_until

WORKFLOWS = [ra.replayer, ra.gated_double, ra.held_square, ra.approved_echo]


def _squares(*ns: int) -> list[Turn]:
    return [Turn.call("held_square", {"n": n}) for n in ns] + [Turn.reply("squares done")]


async def _steps(client: Any, execution_id: str) -> list[tuple[str, str]]:
    """The run's recorded steps (key, kind), every one a success."""
    rows = await client.store.list_steps(execution_id)
    assert all(s.error is None and s.output is not None for s in rows)
    return sorted((s.step_key, s.kind) for s in rows)


async def test_an_agent_with_tools_records_every_llm_step_with_its_tool_calls(
    database_url: str,
) -> None:
    with FakeOpenAIServer(_squares(1, 2, 3)) as server:
        ra.point_at(server.base_url)
        async with Polos(database_url=database_url, workflows=WORKFLOWS) as polos:
            handle = await ra.replayer.invoke(polos, "square them")
            result = await polos.wait_for_result(handle.id, timeout=30)
            steps = await _steps(polos, handle.id)
            tools = await polos.list_executions(workflow_id="held_square")
    assert result.text == "squares done"
    assert [(c.name, json.loads(c.result), c.is_error) for c in result.tool_calls] == [
        ("held_square", {"n": n, "square": n * n}, False) for n in (1, 2, 3)
    ]
    assert steps == sorted(
        [(f"llm_{i}", StepKind.RUN) for i in (1, 2, 3, 4)]
        + [(f"tools_{i}", StepKind.CHILDREN) for i in (1, 2, 3)]
    )
    assert len(tools) == 3
    assert len(server.requests) == 4


@asynccontextmanager
async def _tool_starts_blocked(database_url: str) -> AsyncIterator[None]:
    """Make the worker's next start of children wait, inside its transaction.

    SQLite has one write lock, held here: the step and the children wait
    alike. On PostgreSQL only the children's insert waits (a trigger takes an
    advisory lock held here), so a step written apart from its children
    would be committed, and seen, before the kill. What waits when the
    block ends is ended with it (the write dies with the worker).
    """
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    dsn, schema = database_url.split("?schema=")
    key = random.randrange(1, 2**62)
    pg = await asyncpg.connect(dsn)
    try:
        await pg.execute(
            f"""CREATE FUNCTION "{schema}".hold_children() RETURNS trigger AS $$
                BEGIN PERFORM pg_advisory_xact_lock_shared({key}); RETURN NEW; END
                $$ LANGUAGE plpgsql"""
        )
        await pg.execute(
            f"""CREATE TRIGGER hold_children BEFORE INSERT ON "{schema}".executions
                FOR EACH ROW WHEN (NEW.parent_execution_id IS NOT NULL)
                EXECUTE FUNCTION "{schema}".hold_children()"""
        )
        await pg.execute("SELECT pg_advisory_lock($1)", key)
        try:
            yield
        finally:
            # The dead worker's start of children is one statement, waiting on
            # the lock: let through, it would commit (the server notices a
            # client gone only when it next writes to it), as if the worker had
            # died just after the commit. This test wants the write lost with
            # the process, so that session ends first; then the lock goes.
            await pg.execute(
                """SELECT pg_terminate_backend(pid) FROM pg_locks
                   WHERE locktype = 'advisory' AND NOT granted
                     AND ((classid::bigint << 32) | objid::bigint) = $1""",
                key,
            )
            await pg.execute("SELECT pg_advisory_unlock($1)", key)
            await pg.execute(f'DROP TRIGGER hold_children ON "{schema}".executions')
    finally:
        await pg.close()


async def test_a_worker_killed_after_the_model_asked_for_tools_asks_it_once_more(
    database_url: str, tmp_path: Path
) -> None:
    # The model takes a while to answer, so the test blocks the tool start
    # before the second answer arrives, and the worker dies while it waits.
    # The second answer is scripted twice: the killed worker's copy is lost.
    with FakeOpenAIServer(_squares(1, 2, 2)[:2] + _squares(2), latency=0.5) as server:
        ra.point_at(server.base_url)
        env = {"POLOS_TEST_LLM_URL": server.base_url}
        async with PolosClient(database_url=database_url) as client:
            worker = WorkerProcess(
                database_url, tmp_path / "steps.log", modules="replay_agents", **env
            )
            try:
                handle = await ra.replayer.invoke(client, "square them")
                await asyncio.to_thread(
                    wait_until, lambda: len(server.requests) >= 2, 30, "the second LLM call"
                )
                async with _tool_starts_blocked(database_url):
                    # The answer arrives and the worker waits on the blocked write.
                    await asyncio.sleep(1.5)
                    worker.kill()
            finally:
                worker.kill()
            assert len(server.requests) == 2
            assert await _steps(client, handle.id) == [
                ("llm_1", StepKind.RUN),
                ("tools_1", StepKind.CHILDREN),
            ], "the second LLM step is recorded only with its tool calls"
            assert len(await client.list_executions(workflow_id="held_square")) == 1

            restarted = WorkerProcess(
                database_url, tmp_path / "steps.log", modules="replay_agents", **env
            )
            try:
                result = await client.wait_for_result(handle.id, timeout=60)
            finally:
                restarted.terminate()
            steps = await _steps(client, handle.id)
            tool_runs = await client.list_executions(workflow_id="held_square")
    assert result.text == "squares done"
    assert [json.loads(c.result) for c in result.tool_calls] == [
        {"n": n, "square": n * n} for n in (1, 2)
    ]
    # The second call was made again once (the killed worker's answer was never
    # recorded), the others once each.
    assert len(server.requests) == 4
    assert sorted(t.result["n"] for t in tool_runs) == [1, 2], "each tool call started once"
    assert [key for key, _ in steps] == ["llm_1", "llm_2", "llm_3", "tools_1", "tools_2"]


async def test_an_llm_step_whose_tool_calls_start_nothing_is_still_recorded(
    database_url: str,
) -> None:
    # No tool child starts (the tool does not exist), so the deferred step is
    # written on its own before the next LLM step.
    turns = [Turn.call("no_such_tool", {"n": 1}), Turn.reply("done")]
    with FakeOpenAIServer(turns) as server:
        ra.point_at(server.base_url)
        async with Polos(database_url=database_url, workflows=WORKFLOWS) as polos:
            handle = await ra.replayer.invoke(polos, "try it")
            result = await polos.wait_for_result(handle.id, timeout=30)
            steps = await _steps(polos, handle.id)
    assert result.text == "done"
    assert [(c.name, c.is_error) for c in result.tool_calls] == [("no_such_tool", True)]
    assert steps == [("llm_1", StepKind.RUN), ("llm_2", StepKind.RUN)]
