"""Events over HTTP on both backends: publish (Polos's batch_publish shape), read a topic's
log, and follow a topic or a whole run tree as Server-Sent Events, resuming with
Last-Event-ID without losing or repeating an event."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import pytest

import server_workflows  # noqa: F401
from polos import Polos
from server_kit import Served, serving, sse_frames, until


async def _publish(s: Served, topic: str, *values: Any) -> list[int]:
    r = await s.http.post(
        "/api/v1/events/publish",
        json={"topic": topic, "events": [{"event_type": "tick", "data": {"v": v}} for v in values]},
    )
    assert r.status_code == 200, r.text
    ids: list[int] = r.json()["sequence_ids"]
    return ids


async def test_publish_and_read(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        ids = await _publish(s, "orders", 1)  # alone: a batch shares one created_at
        ids += await _publish(s, "orders", 2, 3)
        assert ids == sorted(ids) and len(set(ids)) == 3
        await _publish(s, "other", 99)
        page = (await s.http.get("/api/v1/events", params={"topic": "orders", "limit": 2})).json()
        assert [e["data"] for e in page["events"]] == [{"v": 1}, {"v": 2}]
        assert page["has_more"] is True and page["next_sequence_id"] == ids[1]
        rest = (
            await s.http.get(
                "/api/v1/events", params={"topic": "orders", "last_sequence_id": ids[1]}
            )
        ).json()
        assert [e["sequence_id"] for e in rest["events"]] == [ids[2]]
        assert rest["has_more"] is False
        first = page["events"][0]
        assert first["topic"] == "orders" and first["event_type"] == "tick"
        # after a time: the events published after the first one
        after_first = (
            await s.http.get(
                "/api/v1/events", params={"topic": "orders", "last_timestamp": first["created_at"]}
            )
        ).json()
        assert [e["data"]["v"] for e in after_first["events"]] == [2, 3]
        assert datetime.fromisoformat(first["created_at"]).tzinfo is not None

        for params in (
            {},
            {"topic": ""},
            {"topic": "t", "limit": 0},
            {"topic": "t", "sort": "desc"},
        ):
            r = await s.http.get("/api/v1/events", params=params)
            assert r.status_code == 422, (params, r.text)
        for body in ({"topic": "t", "events": []}, {"events": [{"data": 1}]}, {"topic": "t"}):
            r = await s.http.post("/api/v1/events/publish", json=body)
            assert r.status_code == 422, (body, r.text)


async def test_publish_wakes_a_waiting_run(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        run = (
            await s.http.post("/api/v1/workflows/srv_wait/run", json={"payload": {"topic": "go"}})
        ).json()["execution_id"]

        async def waiting() -> bool:
            return (await s.http.get(f"/api/v1/executions/{run}")).json()["status"] == "waiting"

        await until(waiting)
        await _publish(s, "go", "now")
        assert await polos.client.wait_for_result(run, timeout=20) == {"v": "now"}


async def test_topic_stream_resumes_without_loss_or_duplicates(
    polos: Polos, database_url: str
) -> None:
    async with serving(database_url) as s:
        published: list[int] = []

        async def publisher() -> None:
            for n in range(0, 40, 4):
                published.extend(await _publish(s, "feed", *range(n, n + 4)))
                await asyncio.sleep(0.01)

        received: list[tuple[str | None, dict[str, Any]]] = []
        task = asyncio.create_task(publisher())
        async with s.http.stream("GET", "/api/v1/events/stream", params={"topic": "feed"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            received += await sse_frames(r, 15)  # then the client goes away mid-stream
        last_id = received[-1][0]
        assert last_id is not None
        await task  # the rest is published while nobody listens
        headers = {"Last-Event-ID": last_id}
        async with s.http.stream(
            "GET", "/api/v1/events/stream", params={"topic": "feed"}, headers=headers
        ) as r:
            received += await sse_frames(r, 40 - 15)
        assert [data["data"]["v"] for _, data in received] == list(range(40))
        assert [data["sequence_id"] for _, data in received] == published
        assert [event_id for event_id, _ in received] == [str(seq) for seq in published]
        # last_sequence_id in the query does the same (Polos's SDK sends it)
        params = {"topic": "feed", "last_sequence_id": str(published[37])}
        async with s.http.stream("GET", "/api/v1/events/stream", params=params) as r:
            tail = await sse_frames(r, 2)
        assert [d["data"]["v"] for _, d in tail] == [38, 39]


async def test_many_followers_of_a_topic_share_one_reader(polos: Polos, database_url: str) -> None:
    """Followers of a topic read what one reader per topic keeps; one that starts
    further back than that (here: from the beginning of 2,500 events) reads the
    store until it catches up. Each sees every event once, in order."""
    async with serving(database_url) as s:
        params = {"topic": "crowd", "last_sequence_id": "0"}
        published: list[int] = []
        async with contextlib.AsyncExitStack() as stack:
            streams = [
                await stack.enter_async_context(
                    s.http.stream("GET", "/api/v1/events/stream", params=params)
                )
                for _ in range(8)
            ]
            readers = [asyncio.create_task(sse_frames(r, 2500)) for r in streams]
            await until(lambda: _following(s, "crowd", 8))
            for start in range(0, 2500, 500):
                published += await _publish(s, "crowd", *range(start, start + 500))
            for received in await asyncio.gather(*readers):
                assert [d["sequence_id"] for _, d in received] == published
            # A latecomer from the start is behind what the reader keeps.
            async with s.http.stream("GET", "/api/v1/events/stream", params=params) as late:
                received = await sse_frames(late, 2500)
                assert [d["sequence_id"] for _, d in received] == published
                assert [d["data"]["v"] for _, d in received] == list(range(2500))
        # Everyone left: the topic's reader is gone too.
        await until(lambda: _following(s, "crowd", None))


async def _following(s: Served, topic: str, expected: int | None) -> bool:
    return s.state.fanout.following().get(topic) == expected


async def test_idle_stream_sends_keepalive_comments(polos: Polos, database_url: str) -> None:
    async with serving(database_url, keepalive_seconds=0.1) as s:
        comments: list[str] = []
        async with s.http.stream("GET", "/api/v1/events/stream", params={"topic": "quiet"}) as r:
            reader = asyncio.ensure_future(sse_frames(r, 1, comments=comments))
            await until(lambda: _async(len([c for c in comments if "keepalive" in c]) >= 2))
            await _publish(s, "quiet", "finally")
            [(event_id, event)] = await reader
        assert event["data"] == {"v": "finally"} and event_id == str(event["sequence_id"])


async def _async(value: Any) -> Any:
    return value


async def test_run_tree_stream_and_resume(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        run = (await s.http.post("/api/v1/workflows/srv_approval/run", json={"payload": {}})).json()
        run_id, workflow_id = run["execution_id"], run["root_workflow_id"]
        params = {"workflow_id": workflow_id, "workflow_run_id": run_id}
        async with s.http.stream("GET", "/api/v1/events/stream", params=params) as r:
            [(first_id, suspended)] = await sse_frames(r, 1)
        assert suspended["event_type"] == "suspend_approve"
        assert suspended["data"]["_approval_url"].endswith(f"/approve/{run_id}/approve")
        assert suspended["data"]["_form"]["title"] == "Deploy api v2"

        submitted = await s.http.post(
            f"/api/v1/approvals/{run_id}/approve/submit",
            json={"data": {"approved": True, "approver": "ann"}},
        )
        assert submitted.status_code == 200, submitted.text
        # The whole stream from the start, until the root finishes (the server ends it).
        async with s.http.stream("GET", "/api/v1/events/stream", params=params) as r:
            everything = await sse_frames(r, 100)
        kinds = [e["event_type"] for _, e in everything]
        assert kinds == ["suspend_approve", "step_start", "step_finish", "workflow_finish"], kinds
        finish = everything[-1][1]
        assert finish["data"]["result"] == {"approved": True, "approver": "ann"}
        assert finish["data"]["_metadata"]["execution_id"] == run_id
        assert everything[0][0] == first_id
        # Resuming after each event in turn gives exactly the events after it.
        for i, (event_id, _) in enumerate(everything[:-1]):
            assert event_id is not None
            async with s.http.stream(
                "GET", "/api/v1/events/stream", params=params, headers={"Last-Event-ID": event_id}
            ) as r:
                rest = await sse_frames(r, 100)
            assert [e for _, e in rest] == [e for _, e in everything[i + 1 :]], i


async def test_stream_bad_input(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        run = (await s.http.post("/api/v1/workflows/srv_echo/run", json={"payload": {}})).json()
        cases: list[tuple[dict[str, str], dict[str, str], int]] = [
            ({}, {}, 400),
            ({"workflow_run_id": run["execution_id"]}, {}, 400),
            ({"topic": "t", "workflow_id": "srv_echo", "workflow_run_id": "x"}, {}, 400),
            ({"workflow_id": "srv_echo", "workflow_run_id": "no-such-run"}, {}, 404),
            ({"workflow_id": "srv_other", "workflow_run_id": run["execution_id"]}, {}, 400),
            ({"topic": "t", "last_sequence_id": "-1"}, {}, 422),
            ({"topic": "t", "last_timestamp": "soon"}, {}, 422),
            ({"topic": "t"}, {"Last-Event-ID": "abc"}, 400),
            (
                {"workflow_id": "srv_echo", "workflow_run_id": run["execution_id"]},
                {"Last-Event-ID": "1.x.2"},
                400,
            ),
        ]
        for params, headers, status in cases:
            r = await s.http.get("/api/v1/events/stream", params=params, headers=headers)
            assert r.status_code == status, (params, headers, r.text)
            assert r.json()["error"]


async def test_a_topics_reader_outlives_an_unexpected_error(
    polos: Polos, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one reader of a topic failing (a bug, not an outage) once must not
    leave its followers waiting for good: it reads again and they get every event."""
    async with serving(database_url) as s:
        store = s.state.store
        real_read = store.read_events
        failures: list[int] = []

        async def fails_once(*args: Any, **kwargs: Any) -> Any:
            if not failures:
                failures.append(1)
                raise RuntimeError("a bug while reading the topic")
            return await real_read(*args, **kwargs)

        monkeypatch.setattr(store, "read_events", fails_once)
        async with s.http.stream("GET", "/api/v1/events/stream", params={"topic": "bug"}) as r:
            reading = asyncio.create_task(sse_frames(r, 3))
            await until(lambda: _failed(failures))
            published = await _publish(s, "bug", 1, 2, 3)
            received = await asyncio.wait_for(reading, 15)
        assert [d["sequence_id"] for _, d in received] == published


async def _failed(failures: list[int]) -> bool:
    return bool(failures)
