"""``PolosClient(api_url=...)`` over a real ``polos server`` (uvicorn, real HTTP) on
SQLite and PostgreSQL, with a worker on the same database: every client operation
gives what the direct-database client gives."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import server_workflows  # noqa: F401  (defines the srv_* workflows the worker serves)
from polos import (
    BatchWorkflowInput,
    ConfigurationError,
    EventData,
    ExecutionNotFoundError,
    Polos,
    PolosClient,
    WorkflowNotFoundError,
    events,
    schedules,
)
from polos.runtime.remote import RemotePolosClient
from server_kit import serving, until


@pytest.fixture
async def remote(polos: Polos, database_url: str) -> AsyncIterator[PolosClient]:
    async with serving(database_url) as s:
        client = PolosClient(api_url=s.url)
        assert isinstance(client, RemotePolosClient)
        try:
            yield client
        finally:
            await client.close()


async def test_invoke_wait_get_list(remote: PolosClient, polos: Polos) -> None:
    handle = await remote.invoke("srv_echo", {"n": 21}, session_id="s1", user_id="u1")
    assert handle.workflow_id == "srv_echo" and handle.root_execution_id == handle.id
    assert await remote.wait_for_result(handle.id, timeout=30) == {
        "input": {"n": 21},
        "doubled": 42,
    }
    over_http = await remote.get_execution(handle.id)
    direct = await polos.client.get_execution(handle.id)
    assert over_http.model_dump() == direct.model_dump()
    assert [s.step_key for s in over_http.steps] == ["double"]
    assert over_http.history[0].event == "created" and over_http.history[-1].event == "completed"
    assert (await handle.get())["status"] == "completed"

    # run = invoke + wait; a typed payload is validated by the server
    assert await remote.run("srv_order", {"id": "o1", "amount": 2.5}, timeout=30) == {
        "id": "o1",
        "charged": 2.5,
    }
    with pytest.raises(Exception, match="amount"):
        await remote.invoke("srv_order", {"id": "o1", "amount": "lots"})

    listed = await remote.list_executions(workflow_id="srv_echo")
    direct_list = await polos.client.list_executions(workflow_id="srv_echo")
    assert [i.id for i in listed] == [i.id for i in direct_list] == [handle.id]
    assert listed[0].model_dump() == direct_list[0].model_dump()
    assert await remote.list_executions(status="failed") == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await remote.list_executions(created_after=later) == []
    with pytest.raises(ExecutionNotFoundError):
        await remote.get_execution("no-such-run")


async def test_batch_and_idempotency(remote: PolosClient, polos: Polos) -> None:
    handles = await remote.batch_invoke(
        [
            BatchWorkflowInput(id="srv_echo", payload={"n": 1}, session_id="mine"),
            BatchWorkflowInput(id="srv_echo", payload={"n": 2}),
        ],
        session_id="batch",
    )
    results = [await remote.wait_for_result(h.id, timeout=30) for h in handles]
    assert [r["doubled"] for r in results] == [2, 4]
    sessions = [(await polos.client.get_execution(h.id)).session_id for h in handles]
    assert sessions == ["mine", "batch"]

    first = await remote.invoke("srv_echo", {"n": 3}, idempotency_key="k1")
    again = await remote.invoke("srv_echo", {"n": 3}, idempotency_key="k1")
    assert first.id == again.id
    assert len(await polos.client.list_executions(workflow_id="srv_echo")) == 3


async def test_publish_resume_cancel_and_failures(remote: PolosClient, polos: Polos) -> None:
    waiting = await remote.invoke("srv_wait", {"topic": "orders"})
    await until(lambda: _status(remote, waiting.id, "waiting"))
    event = await remote.publish("orders", {"paid": True}, "paid")
    assert event.topic == "orders" and event.event_type == "paid" and event.sequence_id >= 1
    assert await remote.wait_for_result(waiting.id, timeout=30) == {"paid": True}
    seqs = await events.batch_publish(
        remote, "other", [EventData(event_type="a", data={"i": 1}), EventData(data={"i": 2})]
    )
    assert seqs[1] == seqs[0] + 1

    # resume, as the direct client does (also through Polos's resume_<key> event)
    approval = await remote.invoke("srv_approval", {"form": None})
    await until(lambda: _status(remote, approval.id, "waiting"))
    resumed = await remote.resume("srv_approval", approval.id, "approve", {"ok": 1})
    assert resumed.event_type == "resume"
    assert await remote.wait_for_result(approval.id, timeout=30) == {"ok": 1}
    other = await remote.invoke("srv_approval", {"form": None})
    await until(lambda: _status(remote, other.id, "waiting"))
    await remote.publish(f"workflow/srv_approval/{other.id}", {"ok": 2}, "resume_approve")
    assert await remote.wait_for_result(other.id, timeout=30) == {"ok": 2}
    with pytest.raises(Exception, match="already completed"):
        await remote.resume("srv_approval", other.id, "approve", {})

    # cancel: True for an active run, False for a finished one, as the direct client
    stuck = await remote.invoke("srv_wait", {"topic": "never"})
    assert await remote.cancel_execution(stuck.id) is True
    assert (await remote.get_execution(stuck.id)).status == "cancelled"
    assert await remote.cancel_execution(other.id) is False
    assert await polos.client.cancel_execution(other.id) is False
    with pytest.raises(ExecutionNotFoundError):
        await remote.cancel_execution("no-such-run")
    with pytest.raises(Exception, match="cancelled"):
        await remote.wait_for_result(stuck.id, timeout=5)

    with pytest.raises(WorkflowNotFoundError):
        await remote.invoke("srv_nope", {})


async def _status(client: PolosClient, run_id: str, status: str) -> bool:
    return (await client.get_execution(run_id)).status == status


async def test_streams_over_sse(remote: PolosClient) -> None:
    received: list[Any] = []

    async def follow() -> None:
        async for event in events.stream_topic(remote, "feed"):
            received.append(event.data)
            if len(received) == 2:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.5)  # the stream starts from now, as the direct client's
    await remote.publish("feed", {"i": 1})
    await remote.publish("feed", {"i": 2})
    await asyncio.wait_for(task, 20)
    assert received == [{"i": 1}, {"i": 2}]
    replay = []
    async for event in events.stream_topic(remote, "feed", last_sequence_id=0):
        replay.append(event.data)
        if len(replay) == 2:
            break
    assert replay == received

    handle = await remote.invoke("srv_echo", {"n": 5})
    kinds = [e.event_type async for e in events.stream_workflow(remote, "srv_echo", handle.id)]
    assert kinds[-1] == "workflow_finish"
    assert "step_start" in kinds and "step_finish" in kinds


async def test_schedules(remote: PolosClient, polos: Polos) -> None:
    schedule_id = await schedules.create(remote, "srv_echo", "0 9 * * *", "Europe/Paris")
    listed = await schedules.list(remote)
    direct = await schedules.list(polos)
    assert [s.model_dump() for s in listed] == [s.model_dump() for s in direct]
    assert listed[0].schedule_id == schedule_id and listed[0].timezone == "Europe/Paris"
    found = await schedules.get(remote, "srv_echo")
    assert found is not None and found.cron == "0 9 * * *"
    assert await schedules.delete(remote, "srv_echo") is True
    assert await schedules.delete(remote, "srv_echo") is False
    assert await schedules.list(remote) == []


async def test_polos_without_worker_is_remote(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        with pytest.raises(ConfigurationError, match="database_url"):
            Polos(api_url=s.url)
        async with Polos(api_url=s.url, worker=False) as remote:
            assert await remote.run("srv_echo", {"n": 4}, timeout=30) == {
                "input": {"n": 4},
                "doubled": 8,
            }
        # a database URL wins over an api_url: the direct client
        assert not isinstance(
            PolosClient(api_url=s.url, database_url=database_url), RemotePolosClient
        )


async def test_unreachable_server_is_a_clear_error() -> None:
    client = PolosClient(api_url="http://127.0.0.1:9")
    with pytest.raises(Exception, match="unreachable"):
        await client.get_execution("x")
    await client.close()


async def _cli(*args: str) -> tuple[int, str]:
    """``polos ARGS`` in a process of its own, with a database URL in its environment
    that --api-url must override (the process cannot reach the server's database)."""
    env = {**os.environ, "POLOS_DATABASE_URL": "sqlite:////nonexistent/dir/x.db", "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polos.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_cli_over_api_url(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        code, out = await _cli(
            "invoke", "srv_echo", "--payload", '{"n": 6}', "--wait", "--api-url", s.url
        )
        assert code == 0, out
        assert json.loads(out) == {"input": {"n": 6}, "doubled": 12}
        [run] = await polos.client.list_executions(workflow_id="srv_echo")
        code, out = await _cli("show", run.id, "--api-url", s.url)
        assert code == 0 and "completed" in out, out
        code, out = await _cli("list", "--api-url", s.url)
        assert code == 0 and run.id in out, out
        code, out = await _cli("publish", "cli-topic", "--data", '{"x": 1}', "--api-url", s.url)
        assert code == 0, out
        [event] = await polos.client.store.read_events("cli-topic", 0, 10)
        assert event.topic == "cli-topic"
        code, out = await _cli("show", "no-such-run", "--api-url", s.url)
        assert code == 1 and "no-such-run" in out, out
