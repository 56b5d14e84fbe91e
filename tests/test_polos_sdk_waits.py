"""How runs served by Polos SDK workers wait and are resumed, on both backends.

First the server side alone, with plain HTTP calls that send what polos-sdk
0.1.15 sends (``/internal/executions/{id}/wait``, child submissions with a
parent): the run parks, the timer / event / resume / children resolve it and
requeue it, and the replay reads what the SDK expects. Then (slow) the real SDK
in worker processes.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from polos import Polos, WorkflowContext, serialization, workflow
from polos.runtime.client import store_of
from polos.server.protocol.waits import sdk_step_record
from polos.store import ServedWorkflow, Store
from polos.store.records import NewExecution
from polos.testing import FakeOpenAIServer, Turn
from sdk_kit import DATA, SdkWorkers, ServerProcess
from server_kit import Served, serving, until
from test_polos_sdk_state import sdk_openai  # noqa: F401  (the SDK venv with openai)


# the server side, played with plain HTTP ----------------------------------------------------
async def _running(store: Store, workflow_id: str, payload: str = "{}") -> str:
    """A run of ``workflow_id`` claimed by a pretend SDK worker (as the dispatcher would)."""
    now = datetime.now(UTC).timestamp()
    await store.register_workflows([ServedWorkflow(workflow_id, "")], now)
    execution_id = await store.create_execution(
        NewExecution(str(uuid.uuid4()), workflow_id, payload, now)
    )
    await until(lambda: _claim(store, workflow_id, execution_id))
    return execution_id


async def _claim(store: Store, workflow_id: str, execution_id: str) -> bool:
    now = datetime.now(UTC).timestamp()
    claimed = await store.claim("pretend-sdk-worker", [workflow_id], 10, now, 30.0)
    return any(c.execution.id == execution_id for c in claimed)


async def _status(store: Store, execution_id: str) -> str:
    row = await store.get_execution(execution_id)
    assert row is not None
    return row.status


async def _record(store: Store, execution_id: str, step_key: str) -> dict[str, Any] | None:
    step = await store.get_step(execution_id, step_key)
    assert step is not None, f"no record of step {step_key!r}"
    return await sdk_step_record(store, execution_id, step)


async def _wait(s: Served, execution_id: str, **body: Any) -> Any:
    return await s.http.post(f"/internal/executions/{execution_id}/wait", json=body)


def _iso(seconds_from_now: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).isoformat()


async def test_timer_wait_parks_and_fires(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        run = await _running(store, "sdk_timer_wf")
        r = await _wait(s, run, step_key="nap", wait_type="time", wait_until=_iso(0.5))
        assert r.status_code == 200, r.text
        assert r.json() == {"execution_id": run}
        assert await _status(store, run) in ("waiting", "queued")
        # the worker's scheduler fires it: the run is queued for the dispatcher again
        await until(lambda: _status_is(store, run, "queued"))
        record = await _record(store, run, "nap")
        assert record is not None
        assert record["success"] is True and record["outputs"]["success"] is True
        assert datetime.fromisoformat(record["outputs"]["wait_until"])

        # a wait on a step already recorded (a zombie's, replaying an older attempt)
        assert await _claim(store, "sdk_timer_wf", run)
        stale = await _wait(s, run, step_key="nap", wait_type="time", wait_until=_iso(60))
        assert stale.status_code == 409 and "already recorded" in stale.json()["error"]
        assert await _status(store, run) == "running"
        assert await store.release_execution(
            run, (await store.get_execution(run)).attempt, datetime.now(UTC).timestamp()
        )
        # a wait from a worker that no longer runs the execution changes nothing
        late = await _wait(s, run, step_key="late", wait_type="time", wait_until=_iso(60))
        assert late.status_code == 409 and "not running" in late.json()["error"]
        bad = await _wait(s, run, step_key="x", wait_type="sleep", wait_until=_iso(1))
        assert bad.status_code == 400 and "wait_type" in bad.json()["error"]


async def _status_is(store: Store, execution_id: str, status: str) -> bool:
    return await _status(store, execution_id) == status


async def test_event_wait_resumed_by_publish(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        topic = f"orders/{uuid.uuid4()}"
        # an event published before the wait does not count (as in Polos)
        await s.http.post("/api/v1/events/publish", json={"topic": topic, "events": [{"data": {}}]})
        run = await _running(store, "sdk_event_wf")
        r = await _wait(s, run, step_key="order", wait_type="event", wait_topic=topic)
        assert r.status_code == 200, r.text
        assert await _status(store, run) == "waiting"
        published = await s.http.post(
            "/api/v1/events/publish",
            json={
                "topic": topic,
                "events": [{"event_type": "paid", "data": {"amount": 5}}],
                "execution_id": str(uuid.uuid4()),
            },
        )
        assert published.status_code == 200, published.text
        assert await _status(store, run) == "queued"
        record = await _record(store, run, "order")
        assert record is not None and record["success"] is True
        event = record["outputs"]
        assert event["topic"] == topic and event["event_type"] == "paid"
        assert event["data"] == {"amount": 5}
        assert event["sequence_id"] == published.json()["sequence_ids"][0]
        assert datetime.fromisoformat(event["created_at"])


async def test_event_wait_times_out_as_a_step_error(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        run = await _running(store, "sdk_event_timeout_wf")
        r = await _wait(
            s, run, step_key="e", wait_type="event", wait_topic="never", expires_at=_iso(0.3)
        )
        assert r.status_code == 200, r.text
        await until(lambda: _status_is(store, run, "queued"))
        record = await _record(store, run, "e")
        assert record is not None and record["success"] is False
        assert "timed out" in record["error"]["message"]


async def test_suspend_resumed_like_polos(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        run = await _running(store, "sdk_suspend_wf")
        topic = f"workflow/sdk_suspend_wf/{run}"
        # the SDK announces the suspend on the run tree's topic, then parks
        await s.http.post(
            "/api/v1/events/publish",
            json={
                "topic": topic,
                "events": [{"event_type": "suspend_approve", "data": {"amount": 10}}],
            },
        )
        r = await _wait(s, run, step_key="approve", wait_type="suspend", wait_topic=topic)
        assert r.status_code == 200, r.text
        assert await _status(store, run) == "waiting"
        # what it shows is the announced data (approval pages, list_suspended)
        [suspended] = await polos.list_suspended("sdk_suspend_wf")
        assert suspended.step_key == "approve" and suspended.data == {"amount": 10}
        # the approval link the SDK put in that data leads to our approval page and API
        page = await s.http.get(f"/approve/{run}/approve")
        assert page.status_code == 200 and "amount" in page.text
        approval = (await s.http.get(f"/api/v1/approvals/{run}/approve")).json()
        assert approval["status"] == "waiting" and approval["data"] == {"amount": 10}
        # the SDK's resume: resume_<step key> on the run tree's topic
        resumed = await s.http.post(
            "/api/v1/events/publish",
            json={"topic": topic, "events": [{"event_type": "resume_approve", "data": {"ok": 1}}]},
        )
        assert resumed.status_code == 200, resumed.text
        assert await _status(store, run) == "queued"
        record = await _record(store, run, "approve")
        assert record is not None and record["success"] is True
        assert record["outputs"]["data"] == {"ok": 1}
        assert record["outputs"]["event_type"] == "resume_approve"
        assert record["outputs"]["topic"] == topic


async def test_resume_sent_before_the_suspend_is_kept(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        run = await _running(store, "sdk_early_wf")
        await polos.resume("sdk_early_wf", run, "gate", {"early": True})
        r = await _wait(
            s, run, step_key="gate", wait_type="suspend", wait_topic=f"workflow/x/{run}"
        )
        assert r.status_code == 200, r.text
        # resolved at once: the run goes back to the queue, the replay reads the resume
        assert await _status(store, run) == "queued"
        record = await _record(store, run, "gate")
        assert record is not None and record["outputs"]["data"] == {"early": True}


async def _finish(store: Store, execution_id: str, result: str | None, error: str | None) -> None:
    row = await store.get_execution(execution_id)
    assert row is not None and row.status == "running"
    now = datetime.now(UTC).timestamp()
    if error is None:
        assert result is not None
        assert await store.complete_execution(execution_id, row.attempt, result, now)
    else:
        assert await store.fail_execution(execution_id, row.attempt, error, now)


async def test_child_waited_for_alone(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        parent = await _running(store, "sdk_parent_wf")
        await store.register_workflows([ServedWorkflow("sdk_child_wf", "")], 0.0)
        r = await s.http.post(
            "/api/v1/workflows/sdk_child_wf/run",
            json={
                "payload": {"n": 2},
                "parent_execution_id": parent,
                "root_execution_id": parent,
                "step_key": "child",
                "wait_for_subworkflow": True,
                "deployment_id": "d1",
            },
        )
        assert r.status_code == 200, r.text
        child = r.json()["execution_id"]
        assert r.json()["root_execution_id"] == parent
        assert await _status(store, parent) == "waiting"
        await until(lambda: _claim(store, "sdk_child_wf", child))
        await _finish(store, child, '{"doubled": 4}', None)
        assert await _status(store, parent) == "queued"
        record = await _record(store, parent, "child")
        assert record == {
            "step_key": "child",
            "outputs": {"doubled": 4},
            "error": None,
            "success": True,
            "source_execution_id": child,
            "output_schema_name": None,
        }

        # the same submission again (the parent is no longer running): refused
        again = await s.http.post(
            "/api/v1/workflows/sdk_child_wf/run",
            json={"parent_execution_id": parent, "step_key": "child", "wait_for_subworkflow": True},
        )
        assert again.status_code == 409, again.text


async def test_agent_child_read_back_as_agent_result(polos: Polos, database_url: str) -> None:
    """An SDK parent's agent_invoke_and_wait rebuilds its child's result as an AgentResult."""
    store = await store_of(polos)
    async with serving(database_url) as s:
        parent = await _running(store, "sdk_agent_parent_wf")
        await store.register_workflows([ServedWorkflow("sdk_agent_x", "", "agent")], 0.0)
        r = await s.http.post(
            "/api/v1/workflows/sdk_agent_x/run",
            json={"parent_execution_id": parent, "step_key": "ask", "wait_for_subworkflow": True},
        )
        assert r.status_code == 200, r.text
        child = r.json()["execution_id"]
        await until(lambda: _claim(store, "sdk_agent_x", child))
        result = {"agent_run_id": child, "result": "hi", "total_steps": 1, "usage": {}}
        await _finish(store, child, serialization.dumps(result), None)
        record = await _record(store, parent, "ask")
        assert record is not None and record["outputs"] == result
        assert record["output_schema_name"] == "polos.types.types.AgentResult"


async def _complete(s: Served, execution_id: str, result: Any, schema: str | None) -> None:
    """The SDK's report of a run's result, naming the pydantic class it came from."""
    body = {"result": result, "worker_id": "pretend-sdk-worker", "output_schema_name": schema}
    r = await s.http.post(f"/internal/executions/{execution_id}/complete", json=body)
    assert r.status_code == 200, r.text


async def test_a_childs_result_class_is_given_to_the_waiting_parent(
    polos: Polos, database_url: str
) -> None:
    """The class an SDK child named for its result comes back with the parent's step
    (``output_schema_name`` alone, ``result_schema_name`` per child of a batch), as
    Polos's orchestrator gives it, so the parent's SDK rebuilds the model."""
    store = await store_of(polos)
    async with serving(database_url) as s:
        await store.register_workflows(
            [ServedWorkflow("sdk_model_child", ""), ServedWorkflow("sdk_plain_child", "")], 0.0
        )
        parent = await _running(store, "sdk_model_parent")
        r = await s.http.post(
            "/api/v1/workflows/sdk_model_child/run",
            json={"parent_execution_id": parent, "step_key": "one", "wait_for_subworkflow": True},
        )
        assert r.status_code == 200, r.text
        child = r.json()["execution_id"]
        await until(lambda: _claim(store, "sdk_model_child", child))
        await _complete(s, child, {"total": 3.5}, "shop.models.Receipt")
        step = (await s.http.get(f"/internal/executions/{parent}/steps/one")).json()
        assert step["outputs"] == {"total": 3.5} and step["success"] is True
        assert step["output_schema_name"] == "shop.models.Receipt"
        # and with the run itself, where Polos's SDK client rebuilds it (handle.get)
        run = (await s.http.get(f"/api/v1/executions/{child}")).json()
        assert run["result"] == {"total": 3.5}
        assert run["output_schema_name"] == "shop.models.Receipt"

        # a batch: each child's own class, none for a child that named none
        parent2 = await _running(store, "sdk_model_parent")
        r = await s.http.post(
            "/api/v1/workflows/batch_run",
            json={
                "workflows": [
                    {"workflow_id": "sdk_model_child", "payload": {}},
                    {"workflow_id": "sdk_plain_child", "payload": {}},
                ],
                "parent_execution_id": parent2,
                "step_key": "fan",
                "wait_for_subworkflow": True,
            },
        )
        assert r.status_code == 200, r.text
        modelled, plain_child = [e["execution_id"] for e in r.json()["executions"]]
        await until(lambda: _claim(store, "sdk_model_child", modelled))
        await until(lambda: _claim(store, "sdk_plain_child", plain_child))
        await _complete(s, modelled, {"total": 1.0}, "shop.models.Receipt")
        await _complete(s, plain_child, {"ok": True}, None)
        step = (await s.http.get(f"/internal/executions/{parent2}/steps/fan")).json()
        assert [(o["result"], o["result_schema_name"]) for o in step["outputs"]] == [
            ({"total": 1.0}, "shop.models.Receipt"),
            ({"ok": True}, None),
        ]


async def test_batch_waited_for(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        parent = await _running(store, "sdk_batch_parent_wf")
        await store.register_workflows([ServedWorkflow("sdk_batch_child_wf", "")], 0.0)
        r = await s.http.post(
            "/api/v1/workflows/batch_run",
            json={
                "workflows": [
                    {"workflow_id": "sdk_batch_child_wf", "payload": {"i": i}} for i in range(3)
                ],
                "parent_execution_id": parent,
                "step_key": "fan",
                "wait_for_subworkflow": True,
            },
        )
        assert r.status_code == 200, r.text
        children = [e["execution_id"] for e in r.json()["executions"]]
        assert await _status(store, parent) == "waiting"
        claimed: set[str] = set()

        async def all_claimed() -> bool:
            now = datetime.now(UTC).timestamp()
            got = await store.claim("pretend-sdk-worker", ["sdk_batch_child_wf"], 10, now, 30.0)
            claimed.update(c.execution.id for c in got)
            return claimed == set(children)

        await until(all_claimed)
        await _finish(store, children[1], None, '{"message": "boom", "type": "ValueError"}')
        await _finish(store, children[2], '"c"', None)
        assert await _status(store, parent) == "waiting"  # one child still runs
        await _finish(store, children[0], '"a"', None)
        assert await _status(store, parent) == "queued"
        record = await _record(store, parent, "fan")
        assert record is not None and record["success"] is True
        assert [(o["success"], o["result"], o["error"]) for o in record["outputs"]] == [
            (True, "a", None),
            (False, None, "boom"),
            (True, "c", None),
        ]
        assert [o["workflow_id"] for o in record["outputs"]] == ["sdk_batch_child_wf"] * 3


async def test_child_started_without_waiting(polos: Polos, database_url: str) -> None:
    store = await store_of(polos)
    async with serving(database_url) as s:
        parent = await _running(store, "sdk_fire_parent_wf")
        await store.register_workflows([ServedWorkflow("sdk_fire_child_wf", "")], 0.0)
        r = await s.http.post(
            "/api/v1/workflows/sdk_fire_child_wf/run",
            json={"parent_execution_id": parent, "root_execution_id": parent},
        )
        assert r.status_code == 200, r.text
        child = await store.get_execution(r.json()["execution_id"])
        assert child is not None and child.parent_execution_id == parent
        assert child.root_execution_id == parent and child.status == "queued"
        assert await _status(store, parent) == "running"  # the parent goes on
        unknown = await s.http.post(
            "/api/v1/workflows/no_such_wf/run", json={"parent_execution_id": parent}
        )
        assert unknown.status_code == 404, unknown.text
        no_key = await s.http.post(
            "/api/v1/workflows/sdk_fire_child_wf/run",
            json={"parent_execution_id": parent, "wait_for_subworkflow": True},
        )
        assert no_key.status_code == 400 and "step_key" in no_key.json()["error"]


# the real polos-sdk 0.1.15 in worker processes ------------------------------------------------
SCRIPT = "sdk_waits_worker.py"
#: The SDK sleeps in memory through waits up to POLOS_WAIT_THRESHOLD_SECONDS (10 s by
#: default) and parks only longer ones; the workers here park anything over 1 s.
SDK_ENV = {"POLOS_WAIT_THRESHOLD_SECONDS": "1"}


@workflow(id="ours_double")
async def ours_double(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Ours, invoked (and waited for) by an SDK workflow."""
    return {"doubled": payload["n"] * 2, "by": "polos"}


@workflow(id="ours_calls_sdk")
async def ours_calls_sdk(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Ours, waiting for a child an SDK worker serves."""
    got = await ctx.step.invoke_and_wait("c", "sdkw_child", {"n": payload["n"]})
    return {"child": got}


async def _sdk_client(python: Path, server: ServerProcess, code: str) -> None:
    """Run ``code`` with the SDK's own ``PolosClient`` (as ``client``), in the SDK venv."""
    program = (
        "import asyncio\nfrom polos import PolosClient\n"
        "async def main():\n    client = PolosClient()\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLOS_")}
    env.update(POLOS_API_URL=server.url, POLOS_PROJECT_ID="default", POLOS_LOCAL_MODE="true")
    proc = await asyncio.create_subprocess_exec(
        str(python), "-c", program, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-3000:]


def _count(directory: Path, name: str) -> int:
    path = directory / f"{name}.count"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def _start(polos: Polos, workflow_id: str, payload: Any) -> str:
    handle = await polos.invoke(workflow_id, payload)
    return str(handle.id)


async def _result(polos: Polos, execution_id: str) -> Any:
    return await polos.client.wait_for_result(execution_id, timeout=90)


@pytest.mark.slow
async def test_sdk_workflows_wait_and_resume(
    polos: Polos,
    sdk_python: Path,
    polos_server: ServerProcess,
    sdk_workers: SdkWorkers,
    tmp_path: Path,
) -> None:
    sdk_workers.start(SCRIPT, extra={**SDK_ENV, "SDK_TEST_DIR": str(tmp_path)})
    store = await store_of(polos)
    topic = f"sdk-orders-{uuid.uuid4().hex[:8]}"

    nap = await _start(polos, "sdkw_nap", {"seconds": 2.5})
    event = await _start(polos, "sdkw_event", {"topic": topic})
    woken = await _start(polos, "sdkw_event", {"topic": f"{topic}-b"})
    expiring = await _start(polos, "sdkw_event_timeout", {"topic": f"{topic}-never"})
    ours_resume = await _start(polos, "sdkw_suspend", {"amount": 5, "tag": "ours"})
    sdk_resume = await _start(polos, "sdkw_suspend", {"amount": 7, "tag": "sdk"})
    page_resume = await _start(polos, "sdkw_suspend", {"amount": 8, "tag": "page"})
    sdk_to_sdk = await _start(polos, "sdkw_parent", {"n": 4, "tag": "sdk"})
    sdk_to_ours = await _start(
        polos, "sdkw_parent", {"n": 5, "tag": "ours", "child": "ours_double"}
    )
    batch = await _start(polos, "sdkw_batch", {"ns": [1, 2, 3], "fail": 2})
    ours_to_sdk = await _start(polos, "ours_calls_sdk", {"n": 6})

    # each waits parked, its worker slot free (the timer: longer than the SDK's threshold)
    for run in (nap, event, woken, ours_resume, sdk_resume, page_resume):
        await until(lambda r=run: _status_is(store, r, "waiting"), timeout=60)

    # an event published through the API the SDK's client uses wakes the event wait
    await _sdk_client(
        sdk_python,
        polos_server,
        "from polos import events\nfrom polos.features.events import EventData\n"
        f"await events.publish(client, {topic!r}, EventData(event_type='paid', data={{'amount': 3}}))",
    )
    # and one published by another SDK workflow's step wakes the other event wait
    await _start(polos, "sdkw_publish", {"topic": f"{topic}-b"})
    # a suspend resumed by our client, another by the SDK's client
    await polos.resume("sdkw_suspend", ours_resume, "approve", {"approved": True})
    await _sdk_client(
        sdk_python,
        polos_server,
        f"await client.resume('sdkw_suspend', {sdk_resume!r}, 'approve', {{'approved': False}})",
    )

    # and one answered on the approval page's API, which shows what the SDK announced
    async with httpx.AsyncClient(base_url=polos_server.url, timeout=30) as http:
        shown = (await http.get(f"/api/v1/approvals/{page_resume}/approve")).json()
        assert shown["status"] == "waiting" and shown["data"]["amount"] == 8
        assert shown["data"]["_approval_url"].endswith(f"/approve/{page_resume}/approve")
        sent = await http.post(
            f"/api/v1/approvals/{page_resume}/approve/submit", json={"data": {"ok": "yes"}}
        )
        assert sent.status_code == 200, sent.text

    assert await _result(polos, nap) == {"before": 1, "after": 1}
    assert await _result(polos, event) == {"data": {"amount": 3}, "topic": topic, "type": "paid"}
    assert await _result(polos, woken) == {
        "data": {"from": "sdk"},
        "topic": f"{topic}-b",
        "type": "told",
    }
    # an event wait with a timeout that expires: the SDK raises it as a step error
    timed_out = (await _result(polos, expiring))["timed_out"]
    assert timed_out.startswith("StepExecutionError") and "timed out" in timed_out
    # the SDK workflow's own publish went out once
    done = await store.read_events(f"{topic}/done", 0)
    assert [serialization.loads(e.data) for e in done] == [{"got": {"amount": 3}}]
    assert await _result(polos, ours_resume) == {
        "resumed": {"approved": True},
        "type": "resume_approve",
    }
    assert await _result(polos, sdk_resume) == {
        "resumed": {"approved": False},
        "type": "resume_approve",
    }
    assert await _result(polos, page_resume) == {"resumed": {"ok": "yes"}, "type": "resume_approve"}
    assert await _result(polos, sdk_to_sdk) == {"child": {"doubled": 8}}
    assert await _result(polos, sdk_to_ours) == {"child": {"doubled": 10, "by": "polos"}}
    got = await _result(polos, batch)
    assert got["results"] == [{"doubled": 2}, None, {"doubled": 6}]
    assert got["errors"][0] is None and got["errors"][2] is None
    assert "child 2 refuses" in got["errors"][1]
    assert await _result(polos, ours_to_sdk) == {"child": {"doubled": 12}}

    # steps before each wait ran once: the resumed runs replayed them
    for name in ("nap_before", f"event_before_{topic}", "suspend_before_ours", "parent_before_sdk"):
        assert _count(tmp_path, name) == 1, name
    assert _count(tmp_path, "nap_after") == 1
    # the children sit in their parents' run trees
    tree = {r.id: r for r in await store.list_run_tree(sdk_to_ours)}
    [child] = [r for r in tree.values() if r.id != sdk_to_ours]
    assert child.workflow_id == "ours_double" and child.parent_execution_id == sdk_to_ours


@pytest.mark.slow
async def test_sdk_worker_killed_while_its_run_waits(
    polos: Polos,
    polos_server: ServerProcess,
    sdk_workers: SdkWorkers,
    tmp_path: Path,
) -> None:
    env = {**SDK_ENV, "SDK_TEST_DIR": str(tmp_path)}
    first = sdk_workers.start(SCRIPT, extra=env)
    store = await store_of(polos)
    topic = f"sdk-kill-{uuid.uuid4().hex[:8]}"
    run = await _start(polos, "sdkw_event", {"topic": topic})
    await until(lambda: _status_is(store, run, "waiting"), timeout=60)

    first.kill()  # SIGKILL while the run waits: nothing of it was in that process
    sdk_workers.start(SCRIPT, extra=env)
    await polos.publish(topic, {"amount": 9}, "paid")
    assert await _result(polos, run) == {"data": {"amount": 9}, "topic": topic, "type": "paid"}
    assert _count(tmp_path, f"event_before_{topic}") == 1  # replayed on the new worker


@pytest.mark.slow
async def test_sdk_parent_gets_its_sdk_childs_pydantic_model(
    polos: Polos, sdk_python: Path, polos_server: ServerProcess, sdk_workers: SdkWorkers
) -> None:
    """invoke_and_wait and batch_invoke_and_wait give an SDK parent the pydantic model
    its SDK child returned (rebuilt from the class the child named), as with Polos."""
    sdk_workers.start("sdk_models_worker.py")
    order = {"order": "o-7", "total": 12.5}
    one = await _start(polos, "sdkm_parent", order)
    many = await _start(polos, "sdkm_batch", order)
    assert await _result(polos, one) == {"type": "Receipt", "total": 12.5, "items": ["tea"]}
    assert await _result(polos, many) == [
        {"type": "Receipt", "total": 12.5, "items": ["tea"]},
        {"type": "dict", "value": {"order": "o-7"}},
    ]
    store = await store_of(polos)
    [child] = [r for r in await store.list_run_tree(one) if r.id != one]
    assert child.output_schema_name == "sdk_models.Receipt"

    # The SDK's own client rebuilds the model from the run too (ExecutionHandle.get).
    await _sdk_client(
        sdk_python,
        polos_server,
        f"import sys\nsys.path.insert(0, {str(DATA)!r})\nfrom sdk_models import Receipt\n"
        f"handle = await client.invoke('sdkm_receipt', {order!r})\n"
        "for _ in range(600):\n"
        "    got = await handle.get(client)\n"
        "    if got['status'] == 'completed':\n"
        "        break\n"
        "    await asyncio.sleep(0.1)\n"
        "assert isinstance(got['result'], Receipt), got\n"
        "assert got['output_schema_name'] == 'sdk_models.Receipt', got",
    )


@pytest.mark.slow
@pytest.mark.usefixtures("sdk_openai")
async def test_sdk_workflow_waits_for_an_agent(polos: Polos, sdk_workers: SdkWorkers) -> None:
    """agent_invoke_and_wait gives the SDK workflow an AgentResult, as Polos does."""
    with FakeOpenAIServer() as fake_llm:
        fake_llm.add_turns(Turn.reply("Forty-two"))
        sdk_workers.start(
            "sdk_waits_agent_worker.py",
            extra={"OPENAI_BASE_URL": fake_llm.base_url, "OPENAI_API_KEY": "test"},
        )
        run = await _start(polos, "sdkw_asks_agent", {"question": "The answer?"})
        assert await _result(polos, run) == {"is_agent_result": True, "result": "Forty-two"}
