"""The HTTP API over real HTTP, on SQLite and PostgreSQL: runs, lists, cancel, steps and
history, workflows and workers, schedules, health, the OpenAPI document, and a clear
4xx (never a 5xx) for every bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import server_workflows  # noqa: F401  (defines the srv_* workflows the worker serves)
from polos import Polos
from server_kit import serving, until


async def _result(http: Any, execution_id: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        body = (await http.get(f"/api/v1/executions/{execution_id}")).json()
        return body if body["status"] in ("completed", "failed", "cancelled") else None

    result: dict[str, Any] = await until(finished)
    return result


async def test_run_get_steps_history(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        r = await s.http.post(
            "/api/v1/workflows/srv_echo/run", json={"payload": {"n": 21}, "session_id": "s1"}
        )
        assert r.status_code == 200, r.text
        started = r.json()
        run_id = started["execution_id"]
        assert started["workflow_id"] == "srv_echo"
        assert started["root_execution_id"] == run_id
        datetime.fromisoformat(started["created_at"])

        done = await _result(s.http, run_id)
        assert done["status"] == "completed"
        assert done["result"] == {"input": {"n": 21}, "doubled": 42}
        assert done["payload"] == {"n": 21}
        assert done["session_id"] == "s1"
        assert done["attempt"] == 1 and done["retry_count"] == 0
        # the same view as the client's
        info = await polos.get_execution(run_id)
        assert done["result"] == info.result and done["status"] == info.status

        steps = (await s.http.get(f"/api/v1/executions/{run_id}/steps")).json()
        assert [(x["step_key"], x["output"], x["success"]) for x in steps["steps"]] == [
            ("double", 42, True)
        ]
        history = (await s.http.get(f"/api/v1/executions/{run_id}/history")).json()
        events = [h["event"] for h in history["history"]]
        assert events[0] == "created" and events[-1] == "completed" and "claimed" in events


async def test_typed_payload_validated_and_idempotency(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        bad = await s.http.post(
            "/api/v1/workflows/srv_order/run", json={"payload": {"id": "o1", "amount": "lots"}}
        )
        assert bad.status_code == 422
        assert "srv_order" in bad.json()["error"] and "amount" in bad.json()["error"]

        headers = {"Idempotency-Key": "order-o1"}
        body = {"payload": {"id": "o1", "amount": 9.5}}
        first = await s.http.post("/api/v1/workflows/srv_order/run", json=body, headers=headers)
        again = await s.http.post("/api/v1/workflows/srv_order/run", json=body, headers=headers)
        assert first.status_code == again.status_code == 200
        assert first.json()["execution_id"] == again.json()["execution_id"]
        done = await _result(s.http, first.json()["execution_id"])
        assert done["result"] == {"id": "o1", "charged": 9.5}
        listed = (await s.http.get("/api/v1/executions?workflow_id=srv_order")).json()
        assert len(listed["executions"]) == 1  # the retried request started no second run


async def test_batch_run(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        r = await s.http.post(
            "/api/v1/workflows/batch_run",
            json={
                "workflows": [
                    {"workflow_id": "srv_echo", "payload": {"n": 1}},
                    {"workflow_id": "srv_echo", "payload": {"n": 2}, "priority": 5},
                ],
                "user_id": "u1",
            },
        )
        assert r.status_code == 200, r.text
        ids = [e["execution_id"] for e in r.json()["executions"]]
        assert len(set(ids)) == 2
        results = [await _result(s.http, i) for i in ids]
        assert [x["result"]["doubled"] for x in results] == [2, 4]
        assert {x["user_id"] for x in results} == {"u1"}
        # one unknown workflow refuses the whole batch: nothing is started
        r = await s.http.post(
            "/api/v1/workflows/batch_run",
            json={
                "workflows": [
                    {"workflow_id": "srv_echo", "payload": {}},
                    {"workflow_id": "srv_nope"},
                ]
            },
        )
        assert r.status_code == 404 and r.json()["error_type"] == "WORKFLOW_NOT_FOUND"
        listed = (await s.http.get("/api/v1/executions?workflow_id=srv_echo")).json()
        assert len(listed["executions"]) == 2


async def test_list_paginates_and_filters(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        ids = []
        for n in range(5):
            r = await s.http.post("/api/v1/workflows/srv_echo/run", json={"payload": {"n": n}})
            ids.append(r.json()["execution_id"])
        for i in ids:
            await _result(s.http, i)
        newest_first = list(reversed(ids))

        seen: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = (
                await s.http.get(
                    "/api/v1/executions",
                    params={"workflow_id": "srv_echo", "limit": 2, "offset": offset},
                )
            ).json()
            seen += [e["id"] for e in page["executions"]]
            offset = page["next_offset"]
        assert seen == newest_first

        polos_rows = (
            await s.http.get(
                "/api/v1/workflows/runs", params={"workflow_id": "srv_echo", "limit": 3}
            )
        ).json()
        assert [r["id"] for r in polos_rows] == newest_first[:3]  # Polos's bare array
        assert polos_rows[0]["payload"] == {"n": 4}

        created = [
            datetime.fromisoformat(e["created_at"])
            for e in (await s.http.get("/api/v1/executions?workflow_id=srv_echo")).json()[
                "executions"
            ]
        ]
        # created_at order is newest first; a window keeps the middle three
        window = {"start_time": created[3].isoformat(), "end_time": created[0].isoformat()}
        middle = (await s.http.get("/api/v1/executions", params=window)).json()["executions"]
        assert [e["id"] for e in middle] == newest_first[1:4]
        completed = (await s.http.get("/api/v1/executions?status=completed")).json()
        assert {e["id"] for e in completed["executions"]} >= set(ids)
        assert (await s.http.get("/api/v1/executions?status=queued")).json()["executions"] == []


async def test_cancel(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        r = await s.http.post("/api/v1/workflows/srv_wait/run", json={"payload": {"topic": "t"}})
        run_id = r.json()["execution_id"]

        async def waiting() -> bool:
            body = (await s.http.get(f"/api/v1/executions/{run_id}")).json()
            return body["status"] == "waiting" and body["waiting_on"] == "event"

        await until(waiting)
        cancelled = await s.http.post(f"/api/v1/executions/{run_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert (await s.http.get(f"/api/v1/executions/{run_id}")).json()["status"] == "cancelled"
        # cancelling again is idempotent; a finished run is a conflict
        assert (await s.http.post(f"/api/v1/executions/{run_id}/cancel")).status_code == 200
        done = (await s.http.post("/api/v1/workflows/srv_echo/run", json={"payload": {}})).json()[
            "execution_id"
        ]
        await _result(s.http, done)
        refused = await s.http.post(f"/api/v1/executions/{done}/cancel")
        assert refused.status_code == 409 and "already completed" in refused.json()["error"]


async def test_workflows_workers_health_openapi(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        health = await s.http.get("/health")
        assert health.json() == {"status": "healthy"}
        workflows = (await s.http.get("/api/v1/workflows")).json()
        by_id = {w["workflow_id"]: w for w in workflows}
        assert {"srv_echo", "srv_approval", "srv_order"} <= set(by_id)
        one = (await s.http.get("/api/v1/workflows/srv_echo")).json()
        assert one == by_id["srv_echo"]
        assert (await s.http.get("/api/v1/workflows/srv_nope")).status_code == 404
        assert by_id["srv_agent"]["workflow_type"] == "agent"
        assert by_id["srv_add"]["workflow_type"] == "tool"
        workers = (await s.http.get("/api/v1/workers")).json()["workers"]
        assert polos.worker is not None
        assert polos.worker.worker_id in {w["worker_id"] for w in workers}

        spec = (await s.http.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.")
        paths = spec["paths"]
        for path, method in [
            ("/api/v1/workflows/{workflow_id}/run", "post"),
            ("/api/v1/workflows/batch_run", "post"),
            ("/api/v1/executions/{execution_id}", "get"),
            ("/api/v1/executions/{execution_id}/cancel", "post"),
            ("/api/v1/events/publish", "post"),
            ("/api/v1/events/stream", "get"),
            ("/api/v1/approvals/{execution_id}/{step_key}/submit", "post"),
            ("/api/v1/webhooks/{workflow_id}", "post"),
            ("/api/v1/schedules", "post"),
            ("/health", "get"),
        ]:
            assert method in paths[path], (path, method)
        run = paths["/api/v1/workflows/{workflow_id}/run"]["post"]
        body_ref = run["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body_schema = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
        assert {"payload", "queue_name", "idempotency_key"} <= set(body_schema["properties"])
        listed = paths["/api/v1/executions"]["get"]["parameters"]
        assert {"status", "limit", "offset", "start_time"} <= {p["name"] for p in listed}


async def test_agents_and_tools_as_the_workers_described_them(
    polos: Polos, database_url: str
) -> None:
    async with serving(database_url) as s:
        agents = {a["id"]: a for a in (await s.http.get("/api/v1/agents")).json()}
        assert "srv_echo" not in agents and "srv_add" not in agents
        agent = agents["srv_agent"]
        assert (agent["provider"], agent["model"]) == ("openai", "gpt-4o-mini")
        assert agent["system_prompt"] == "You add numbers."
        assert agent["temperature"] == 0.2
        assert [t["function"]["name"] for t in agent["tools"]] == ["srv_add"]
        assert (await s.http.get("/api/v1/agents/srv_agent")).json() == agent

        tools = {t["id"]: t for t in (await s.http.get("/api/v1/tools")).json()}
        assert set(tools) >= {"srv_add"} and "srv_agent" not in tools
        add = tools["srv_add"]
        assert add["description"] == "Adds two integers" and add["tool_type"] == "default"
        assert set(add["parameters"]["properties"]) == {"a", "b"}
        assert (await s.http.get("/api/v1/tools/srv_add")).json() == add

        missing = await s.http.get("/api/v1/agents/srv_echo")
        assert (
            missing.status_code == 404
            and "no worker has served an agent" in missing.json()["error"]
        )
        assert (await s.http.get("/api/v1/tools/nope")).status_code == 404


async def test_schedules(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        created = await s.http.post(
            "/api/v1/schedules",
            json={"workflow_id": "srv_echo", "cron": "0 9 * * *", "timezone": "Europe/Paris"},
        )
        assert created.status_code == 200, created.text
        schedule_id = created.json()["schedule_id"]
        listed = (await s.http.get("/api/v1/schedules/workflows/srv_echo")).json()["schedules"]
        assert [(x["schedule_id"], x["cron"], x["timezone"], x["key"]) for x in listed] == [
            (schedule_id, "0 9 * * *", "Europe/Paris", "global")
        ]
        next_run = datetime.fromisoformat(listed[0]["next_run_at"])
        assert next_run.astimezone(UTC) - datetime.now(UTC) < timedelta(days=1, minutes=1)
        assert (await s.http.get("/api/v1/schedules/workflows")).json() == {
            "workflow_ids": ["srv_echo"]
        }
        all_schedules = (await s.http.get("/api/v1/schedules")).json()["schedules"]
        assert [x["id"] for x in all_schedules] == [schedule_id]

        for bad, status in [
            ({"workflow_id": "srv_echo", "cron": "not a cron"}, 422),
            ({"workflow_id": "srv_echo", "cron": "0 0 31 2 *"}, 422),  # never fires
            ({"workflow_id": "srv_echo", "cron": "0 9 * * *", "timezone": "Mars/Base"}, 422),
            ({"workflow_id": "srv_nope", "cron": "0 9 * * *"}, 404),
            ({"cron": "0 9 * * *"}, 422),
        ]:
            r = await s.http.post("/api/v1/schedules", json=bad)
            assert r.status_code == status, (bad, r.text)
            assert r.json()["error"]

        gone = await s.http.delete("/api/v1/schedules/workflows/srv_echo")
        assert gone.json() == {"deleted": True}
        again = await s.http.delete("/api/v1/schedules/workflows/srv_echo")
        assert again.status_code == 404
        assert (await s.http.get("/api/v1/schedules")).json()["schedules"] == []


BAD_INPUTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/api/v1/workflows/srv_nope/run", {"json": {}}, 404),
    ("POST", "/api/v1/workflows/srv_echo/run", {"content": b"{not json"}, 400),
    ("POST", "/api/v1/workflows/srv_echo/run", {"content": b""}, 400),
    ("POST", "/api/v1/workflows/srv_echo/run", {"json": [1, 2]}, 422),
    ("POST", "/api/v1/workflows/srv_echo/run", {"json": {"priority": "high"}}, 422),
    ("POST", "/api/v1/workflows/srv_echo/run", {"json": {"run_timeout_seconds": -1}}, 422),
    ("POST", "/api/v1/workflows/srv_echo/run", {"json": {"queue_concurrency_limit": 0}}, 422),
    ("POST", "/api/v1/workflows/srv_echo/run", {"json": {"concurrency_key": "a\x00b"}}, 422),
    ("POST", "/api/v1/workflows/srv_echo/run", {"json": {"concurrency_key": "k" * 300}}, 422),
    ("POST", "/api/v1/workflows/srv%00x/run", {"json": {}}, 400),
    ("POST", "/api/v1/workflows/batch_run", {"json": {"workflows": []}}, 422),
    ("POST", "/api/v1/workflows/batch_run", {"json": {"workflows": [{"payload": 1}]}}, 422),
    ("GET", "/api/v1/executions/no-such-run", {}, 404),
    ("GET", "/api/v1/executions/no-such-run/steps", {}, 404),
    ("GET", "/api/v1/executions/no-such-run/history", {}, 404),
    ("POST", "/api/v1/executions/no-such-run/cancel", {}, 404),
    ("GET", "/api/v1/executions/x%00y", {}, 400),
    ("GET", "/api/v1/executions?limit=0", {}, 422),
    ("GET", "/api/v1/executions?limit=abc", {}, 422),
    ("GET", "/api/v1/executions?offset=-1", {}, 422),
    ("GET", "/api/v1/executions?status=sleeping", {}, 422),
    ("GET", "/api/v1/executions?start_time=yesterday", {}, 422),
    ("GET", "/api/v1/workflows/runs?limit=100000", {}, 422),
    ("GET", "/api/v1/nowhere", {}, 404),
    ("DELETE", "/api/v1/executions/x", {}, 405),
    ("POST", "/api/v1/schedules", {"json": {"workflow_id": "srv_echo"}}, 422),
    ("DELETE", "/api/v1/schedules/workflows/srv_echo?key=", {}, 422),
]


async def test_bad_input_is_a_clear_4xx(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        for method, path, kwargs, status in BAD_INPUTS:
            r = await s.http.request(method, path, **kwargs)
            assert r.status_code == status, (method, path, r.text)
            body = r.json()
            assert body["error"] and body["error_type"], body


async def test_oversized_body_is_413(polos: Polos, database_url: str) -> None:
    async with serving(database_url, max_body_bytes=10_000) as s:
        big = {"payload": {"blob": "x" * 20_000}}
        r = await s.http.post("/api/v1/workflows/srv_echo/run", json=big)
        assert r.status_code == 413 and "10000 bytes" in r.json()["error"]
    async with serving(database_url) as s:  # the payload limit itself (2 MiB) is named too
        huge = {"payload": {"blob": "x" * (2 * 1024 * 1024 + 10)}}
        r = await s.http.post("/api/v1/workflows/srv_echo/run", json=huge)
        assert r.status_code == 413 and "max_payload_bytes" in r.json()["error"]


async def test_concurrent_requests(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        responses = await asyncio.gather(
            *(
                s.http.post("/api/v1/workflows/srv_echo/run", json={"payload": {"n": n}})
                for n in range(20)
            )
        )
        assert {r.status_code for r in responses} == {200}
        results = [await _result(s.http, r.json()["execution_id"]) for r in responses]
        assert sorted(x["result"]["doubled"] for x in results) == [2 * n for n in range(20)]
