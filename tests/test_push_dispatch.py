"""The server's side of the SDK worker protocol against a stand-in push endpoint, on both
backends: registration and its refusals, a push refused at capacity handed back and
pushed again, a run a live worker lost requeued, a forgotten worker told to register
again, step records exactly-once, complete fenced by worker id.

The stand-in is a real HTTP server (Starlette under uvicorn) that answers what
polos-sdk's push server answers and records what it is sent; the real SDK worker is
in tests/test_polos_sdk_worker.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from polos.server import RunningServer, bind
from polos.store import Store
from server_kit import Served, serving, until


@dataclass
class StandIn:
    """A push endpoint: answers 429 ``busy`` times, then takes every run."""

    busy: int = 0
    pushed: list[dict[str, Any]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    running: int = 0
    url: str = ""
    #: Pushes are held unanswered until this is set (a hung endpoint).
    hang: asyncio.Event | None = None
    hung: int = 0

    def app(self) -> Starlette:
        async def execute(request: Request) -> JSONResponse:
            if self.hang is not None and not self.hang.is_set():
                self.hung += 1
                await self.hang.wait()
            if self.busy > 0:
                self.busy -= 1
                return JSONResponse({"error": "Worker at capacity"}, 429)
            self.pushed.append(await request.json())
            return JSONResponse({"status": "accepted"})

        async def cancel(request: Request) -> JSONResponse:
            self.cancels.append(request.path_params["execution_id"])
            return JSONResponse({"status": "cancellation_requested"})

        async def health(_: Request) -> JSONResponse:
            return JSONResponse({"status": "healthy", "current_executions": self.running})

        return Starlette(
            routes=[
                Route("/execute", execute, methods=["POST"]),
                Route("/cancel/{execution_id}", cancel, methods=["POST"]),
                Route("/health", health, methods=["GET"]),
            ]
        )


@asynccontextmanager
async def stand_in(**options: Any) -> AsyncIterator[StandIn]:
    fake = StandIn(**options)
    async with RunningServer(fake.app(), bind("127.0.0.1", 0)) as server:
        fake.url = server.url
        yield fake


async def _register(s: Served, fake: StandIn, serves: list[str], online: bool = True) -> str:
    r = await s.http.post(
        "/api/v1/workers/register",
        json={
            "deployment_id": "dep-x",
            "project_id": "default",
            "mode": "push",
            "push_endpoint_url": fake.url,
            "max_concurrent_executions": 5,
            "capabilities": {"runtime": "python", "workflow_ids": serves},
        },
    )
    assert r.status_code == 200, r.text
    worker_id = str(r.json()["worker_id"])
    for wf in serves:
        r = await s.http.post(
            "/api/v1/workers/deployments/dep-x/workflows",
            json={"workflow_id": wf, "workflow_type": "workflow"},
        )
        assert r.status_code == 200, r.text
    if online:
        assert (await s.http.post(f"/api/v1/workers/{worker_id}/online")).status_code == 200
    return worker_id


async def soon(check: Callable[[], bool]) -> None:
    async def asked() -> bool:
        return check()

    await until(asked, 30)


async def _run(s: Served, workflow_id: str, payload: Any = None) -> str:
    r = await s.http.post(f"/api/v1/workflows/{workflow_id}/run", json={"payload": payload})
    assert r.status_code == 200, r.text
    return str(r.json()["execution_id"])


async def test_registration_refusals_say_what_to_do(database_url: str) -> None:
    async with serving(database_url) as s:
        pull = await s.http.post(
            "/api/v1/workers/register",
            json={"mode": "pull", "push_endpoint_url": "http://127.0.0.1:1"},
        )
        assert pull.status_code == 422 and "push mode" in pull.json()["error"]
        nourl = await s.http.post("/api/v1/workers/register", json={"mode": "push"})
        assert nourl.status_code == 422 and "POLOS_WORKER_SERVER_URL" in nourl.json()["error"]
        unknown = await s.http.post("/api/v1/workers/nobody/heartbeat")
        assert unknown.json() == {"re_register": True}
        online = await s.http.post("/api/v1/workers/nobody/online")
        assert online.status_code == 404 and "register it again" in online.json()["error"]


async def test_pushes_leases_and_callbacks(database_url: str) -> None:
    async with stand_in(busy=1, running=1) as fake, serving(database_url) as s:
        store: Store = s.state.store
        worker_id = await _register(s, fake, ["px_one"])
        assert (await s.http.post(f"/api/v1/workers/{worker_id}/heartbeat")).json() == {
            "re_register": False
        }
        status = (await s.http.get("/api/v1/workers/status?deployment_id=dep-x")).json()
        assert status == {"online_count": 1, "has_workers": True}

        # Refused at capacity once: handed back, then pushed again (a new attempt).
        run_id = await _run(s, "px_one", {"n": 1})
        await soon(lambda: len(fake.pushed) == 1)
        body = fake.pushed[0]
        assert body["execution_id"] == run_id and body["worker_id"] == worker_id
        assert body["payload"] == {"n": 1} and body["deployment_id"] == "dep-x"
        assert body["root_execution_id"] == run_id and body["retry_count"] == 1
        history = [h.event for h in await store.list_history(run_id)]
        assert history.count("claimed") == 2 and "released" in history

        # The worker says it runs nothing, twice: the run it never reported is requeued
        # and pushed again (a live worker's lease is not renewed forever).
        fake.running = 0
        await soon(lambda: len(fake.pushed) == 2)
        assert fake.pushed[1]["execution_id"] == run_id and fake.pushed[1]["retry_count"] == 2

        # It runs it now: steps, first write wins, a stranger's completion refused.
        fake.running = 1
        base = f"/internal/executions/{run_id}"
        assert (await s.http.post(f"{base}/steps", json={"step_key": "a", "outputs": 1})).is_success
        assert (await s.http.post(f"{base}/steps", json={"step_key": "a", "outputs": 2})).is_success
        # A worker naming itself (as @polos/sdk does) is fenced on step writes too.
        other_worker = {"X-Worker-ID": "someone-else"}
        fenced = await s.http.post(f"{base}/steps", json={"step_key": "b"}, headers=other_worker)
        assert fenced.status_code == 409 and "not someone-else" in fenced.json()["error"]
        own = {"X-Worker-ID": worker_id}
        assert (await s.http.post(f"{base}/steps", json={"step_key": "b"}, headers=own)).is_success
        step = (await s.http.get(f"{base}/steps/a")).json()
        assert step["outputs"] == 1 and step["success"] is True
        stranger = await s.http.post(f"{base}/complete", json={"worker_id": "x", "result": 0})
        assert stranger.status_code == 409 and "not running on worker x" in stranger.json()["error"]
        done = await s.http.post(f"{base}/complete", json={"worker_id": worker_id, "result": 7})
        assert done.status_code == 200, done.text
        row = await store.get_execution(run_id)
        assert row is not None and row.status == "completed" and row.result == "7"
        again = await s.http.post(f"{base}/complete", json={"worker_id": worker_id, "result": 8})
        assert again.status_code == 409

        # A retryable failure puts the run back in the queue (as Polos retries it); one
        # the SDK says is not retryable (a step's error) fails it at once.
        again_id = await _run(s, "px_one")
        await soon(lambda: len(fake.pushed) == 3)
        fail = f"/internal/executions/{again_id}/fail"
        r = await s.http.post(fail, json={"worker_id": worker_id, "error": "flaky"})
        assert r.status_code == 200
        await soon(lambda: len(fake.pushed) == 4)
        assert fake.pushed[3]["execution_id"] == again_id
        r = await s.http.post(
            fail, json={"worker_id": worker_id, "error": "bad step", "retryable": False}
        )
        assert r.status_code == 200
        failed = await store.get_execution(again_id)
        assert failed is not None and failed.status == "failed" and "bad step" in failed.error
        events = [h.event for h in await store.list_history(again_id)]
        assert events.count("retried") == 1

        # A cancelled run is announced to the worker holding it, once, though the
        # signal comes twice on PostgreSQL (here, and as its NOTIFY's echo): two
        # at once, as the listener would deliver the echo, then the cancel's own.
        other = await _run(s, "px_one")
        await soon(lambda: len(fake.pushed) == 5)
        store.hub.execution_cancelled(other)
        store.hub.execution_cancelled(other)
        assert (await s.http.post(f"/api/v1/executions/{other}/cancel")).status_code == 200
        await soon(lambda: fake.cancels == [other])
        await asyncio.sleep(0.3)  # a second announcement would have arrived by now
        assert fake.cancels == [other]
        confirm = await s.http.post(
            f"/internal/executions/{other}/confirm-cancellation", json={"worker_id": worker_id}
        )
        assert confirm.status_code == 200


async def test_a_worker_whose_endpoint_is_gone_loses_its_runs(database_url: str) -> None:
    async with serving(database_url) as s:
        store: Store = s.state.store
        async with stand_in() as fake:
            fake.running = 1
            worker_id = await _register(s, fake, ["px_gone"])
            run_id = await _run(s, "px_gone")
            await soon(lambda: len(fake.pushed) == 1)
        # The endpoint closed: connections refused, the worker is forgotten, its run queued.

        async def queued() -> bool:
            row = await store.get_execution(run_id)
            return row is not None and row.status == "queued"

        await until(queued, 30)
        assert worker_id not in {w.worker_id for w in await store.list_workers()}
        heartbeat = await s.http.post(f"/api/v1/workers/{worker_id}/heartbeat")
        assert heartbeat.json() == {"re_register": True}
        late = await s.http.post(
            f"/internal/executions/{run_id}/complete", json={"worker_id": worker_id}
        )
        assert late.status_code == 409


async def test_a_worker_is_pushed_runs_only_once_online(database_url: str) -> None:
    async with stand_in(running=1) as fake, serving(database_url) as s:
        worker_id = await _register(s, fake, ["px_later"], online=False)
        run_id = await _run(s, "px_later")
        await asyncio.sleep(1.5)
        assert fake.pushed == []  # still registering: its push server may not listen yet
        assert (await s.http.get("/api/v1/workers/active")).json() == {"worker_ids": []}
        # Its "online" call was lost; its heartbeat says it as well.
        beat = await s.http.post(f"/api/v1/workers/{worker_id}/heartbeat")
        assert beat.json() == {"re_register": False}
        await soon(lambda: [p["execution_id"] for p in fake.pushed] == [run_id])


async def test_a_hung_endpoint_holds_up_no_other_worker(database_url: str) -> None:
    hang = asyncio.Event()
    async with (
        stand_in(hang=hang, running=1) as stuck,
        stand_in(running=1) as fine,
        serving(database_url) as s,
    ):
        await _register(s, stuck, ["px_stuck"])
        await _register(s, fine, ["px_fine"])
        await _run(s, "px_stuck")
        await soon(lambda: stuck.hung == 1)
        run_id = await _run(s, "px_fine")
        await soon(lambda: [p["execution_id"] for p in fine.pushed] == [run_id])
        assert stuck.hung == 1 and stuck.pushed == []  # still unanswered
        hang.set()
        await soon(lambda: len(stuck.pushed) == 1)


async def test_steps_of_an_unknown_run(database_url: str) -> None:
    async with serving(database_url) as s:
        r = await s.http.post("/internal/executions/nope/steps", json={"step_key": "a"})
        assert r.status_code == 404
        r = await s.http.get("/internal/executions/nope/steps/a")
        assert r.status_code == 404
        r = await s.http.post("/internal/executions/nope/complete", json={"worker_id": "w"})
        assert r.status_code == 404
        assert isinstance(r.json()["error"], str)


async def test_a_run_pushed_during_the_held_runs_read_is_still_cancelled(
    database_url: str,
) -> None:
    """The dispatcher now and then reads which runs SDK workers hold; a run it
    pushes while that read is under way is not in the answer, and must not be
    forgotten (its worker would never hear of its cancellation)."""
    async with stand_in(running=1) as fake, serving(database_url) as s:
        store: Store = s.state.store
        read_started, let_read_end = asyncio.Event(), asyncio.Event()
        real_read = store.runs_held_by

        async def slow_read(owners: Any) -> Any:
            held = await real_read(owners)
            read_started.set()
            await let_read_end.wait()
            return held

        await _register(s, fake, ["px_one"])
        store.runs_held_by = slow_read  # type: ignore[method-assign]
        await asyncio.wait_for(read_started.wait(), 30)  # a read holding nothing yet
        run_id = await _run(s, "px_one")
        await soon(lambda: [p["execution_id"] for p in fake.pushed] == [run_id])
        let_read_end.set()
        store.runs_held_by = real_read  # type: ignore[method-assign]
        assert (await s.http.post(f"/api/v1/executions/{run_id}/cancel")).status_code == 200
        await soon(lambda: fake.cancels == [run_id])
