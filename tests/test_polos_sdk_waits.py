"""How runs served by Polos SDK workers wait and are resumed, on both backends.

First the server side alone, with plain HTTP calls that send what polos-sdk
0.1.15 sends (``/internal/executions/{id}/wait``, child submissions with a
parent): the run parks, the timer / event / resume / children resolve it and
requeue it, and the replay reads what the SDK expects. Then (slow) the real SDK
in worker processes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from polos import Polos
from polos.runtime.client import store_of
from polos.server.protocol.waits import sdk_step_record
from polos.store import ServedWorkflow, Store
from polos.store.records import NewExecution
from server_kit import Served, serving, until


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
