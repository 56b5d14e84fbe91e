"""Polos's TypeScript SDK (``@polos/sdk`` 0.2.3) runs against ``polos server``.

Real processes throughout: ``polos server`` on the test's database (SQLite and
PostgreSQL), Node workers built with the SDK (``node --import tsx``), pointed
at it with ``POLOS_API_URL`` as a Polos user would. Skipped, with the reason,
when no packed SDK is at ``POLOS_TS_SDK_TGZ`` (see tests/ts_kit.py and
docs/typescript.md: the package is not on the npm registry we reach).

- Durability: steps recorded over HTTP are replayed, not run again, after the
  TypeScript worker is SIGKILLed in the middle of a step; a wait for an event
  parks the run on the server and the event resumes it.
- Polos's typescript-examples 08 to 16 run unchanged (``main.ts`` of each,
  its prompts answered as a person would, the model calls of 14 answered by
  our fake OpenAI server) and print what their README promises.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from example_agents_kit import submit_approval_page
from polos import Polos, WorkflowContext, workflow
from sdk_kit import ServerProcess, free_port, start_polos_server
from server_kit import until
from ts_kit import TsProcess, copy_ts_example, node_env, ts_project

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "ts"
POLOS = Path(sys.executable).parent / "polos"
DOCS = Path(__file__).parent.parent / "docs" / "typescript.md"
# A ```typescript block whose first line is "// example: NAME" (indented in a list or not).
DOC_BLOCK = re.compile(r"^( *)```typescript\n\1// example: ([\w-]+)\n(.*?)^\1```", re.M | re.S)


def _until(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s (last: {value!r})")
        time.sleep(0.1)


def _marks(folder: Path) -> list[str]:
    path = folder / "marks.txt"
    return path.read_text().split() if path.exists() else []


def _execution(server: ServerProcess, execution_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/v1/executions/{execution_id}", timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _finished(server: ServerProcess, execution_id: str) -> dict[str, Any] | None:
    body = _execution(server, execution_id)
    return body if body["status"] in ("completed", "failed", "cancelled") else None


def _start_worker(
    folder: Path,
    server: ServerProcess,
    *,
    deployment: str = "ts-tests",
    extra: dict[str, str] | None = None,
) -> tuple[TsProcess, int]:
    port = free_port()
    env = node_env(
        server.url,
        port,
        {"TS_TEST_DIR": str(folder), "POLOS_DEPLOYMENT_ID": deployment, **(extra or {})},
    )
    worker = TsProcess(folder, "crash_worker.ts", env)
    # The SDK opens its push server (GET /health) only once it has registered.
    _until(lambda: _healthy(port, worker), "the TypeScript worker's push server", 90)
    return worker, port


def _healthy(port: int, worker: TsProcess) -> bool:
    if worker.proc.poll() is not None:
        raise AssertionError(f"the TypeScript worker exited:\n{worker.output[-4000:]}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _run(server: ServerProcess, workflow: str, payload: dict[str, Any]) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/workflows/{workflow}/run",
        json={"payload": payload, "deployment_id": "ts-tests"},
        timeout=10,
    )
    assert response.status_code in (200, 201, 202), response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


def test_steps_replay_after_the_typescript_worker_is_sigkilled(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    first, _ = _start_worker(folder, polos_server)
    try:
        execution_id = _run(polos_server, "ts_crash", {"n": 5})
        _until(lambda: _marks(folder) == ["first", "second"], "the worker reaching step 'second'")
        first.kill()  # in the middle of "second": "first" is recorded, "second" is not
        # The server finds the worker gone and puts the run back in the queue ...
        _until(
            lambda: _execution(polos_server, execution_id)["status"] == "queued",
            "the dead worker's run requeued",
        )
        # ... and refuses a late completion from the dead worker's id.
        [old_worker] = re.findall(r"Registered worker: ([0-9a-f-]{36})", first.output)
        late = httpx.post(
            f"{polos_server.url}/internal/executions/{execution_id}/complete",
            json={"worker_id": old_worker, "result": {"zombie": True}},
            headers={"X-Worker-ID": old_worker},
            timeout=10,
        )
        assert late.status_code == 409, late.text

        second, _ = _start_worker(folder, polos_server)
        try:
            (folder / "go").touch()
            done = _until(
                lambda: _finished(polos_server, execution_id),
                "the run completing on the second worker",
                180,
            )
        finally:
            second.kill()
    finally:
        first.kill()
    assert done["status"] == "completed", (done, polos_server.output()[-3000:])
    assert done["result"] == {"doubled": 10, "plusOne": 11}
    assert done["deployment_id"] == "ts-tests"  # the SDK worker's deployment, on its run
    # "first" was recorded before the kill and replayed; "second" ran again.
    assert _marks(folder) == ["first", "second", "second"]


def test_a_paused_typescript_worker_that_lost_its_run_cannot_complete_it(
    database_url: str, ts_node_modules: Path, tmp_path: Path
) -> None:
    # A short lease, so the paused worker's run is taken back within seconds; access
    # logs on, to see the paused worker's late completion refused.
    server = start_polos_server(
        database_url, tmp_path, env={"POLOS_PUSH_LEASE_SECONDS": "3"}, log_level="info"
    )
    # Each worker its own folder: its own marks, its own "go" file.
    zombie_dir = ts_project(tmp_path / "zombie", ts_node_modules, [DATA / "crash_worker.ts"])
    survivor_dir = ts_project(tmp_path / "survivor", ts_node_modules, [DATA / "crash_worker.ts"])
    zombie: TsProcess | None = None
    survivor: TsProcess | None = None
    try:
        zombie, _ = _start_worker(zombie_dir, server)
        execution_id = _run(server, "ts_crash", {"n": 7})
        _until(lambda: _marks(zombie_dir) == ["first", "second"], "the worker in 'second'")
        zombie.proc.send_signal(signal.SIGSTOP)  # alive but silent: its lease runs out
        _until(
            lambda: _execution(server, execution_id)["attempt"] > 1,
            "the paused worker's run taken back",
            60,
        )
        survivor, _ = _start_worker(survivor_dir, server)
        _until(lambda: _marks(survivor_dir) == ["second"], "the survivor in 'second'", 90)
        (survivor_dir / "go").touch()
        done = _until(lambda: _finished(server, execution_id), "the survivor finishing", 90)

        (zombie_dir / "go").touch()
        zombie.proc.send_signal(signal.SIGCONT)  # it ends "second", then reports the run
        refused = f'"POST /internal/executions/{execution_id}/complete HTTP/1.1" 409'
        _until(lambda: refused in server.output(), "the late completion refused", 60)
        after = _execution(server, execution_id)
    finally:
        for worker in (zombie, survivor):
            if worker is not None:
                worker.proc.send_signal(signal.SIGCONT)
                worker.kill()
        server.stop()
    assert done["status"] == "completed", done
    assert done["result"] == {"doubled": 14, "plusOne": 15}
    assert _marks(survivor_dir) == ["second"]  # "first" replayed from the record
    # The zombie's late step record and completion changed nothing.
    assert after["status"] == "completed" and after["result"] == done["result"]
    assert after["completed_at"] == done["completed_at"]


def test_a_typescript_agent_killed_in_its_tool_does_not_ask_the_model_again(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    from polos.testing import FakeOpenAIServer, RecordedRequest, Turn

    def answer(request: RecordedRequest) -> Turn:
        items = request.body.get("input", [])
        [output] = [i["output"] for i in items if i.get("type") == "function_call_output"]
        return Turn.reply(f"k1 is {json.loads(output)['value']}")

    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    # Exactly two model turns: a third request would be refused (400), failing the run.
    with FakeOpenAIServer([Turn.call("ts_slow_lookup", {"key": "k1"}), answer]) as llm:
        env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test"}
        first, _ = _start_worker(folder, polos_server, extra=env)
        try:
            execution_id = _run(polos_server, "ts_agent", {"input": "What is k1?"})
            _until(lambda: _marks(folder) == ["lookup"], "the agent's tool running")
            first.kill()  # the model's tool call is recorded; the tool's own run is not

            second, _ = _start_worker(folder, polos_server, extra=env)
            try:
                (folder / "go").touch()
                done = _until(
                    lambda: _finished(polos_server, execution_id), "the agent finishing", 180
                )
            finally:
                second.kill()
        finally:
            first.kill()
        requests = len(llm.requests)
    assert done["status"] == "completed", done
    assert done["result"]["result"] == "k1 is value-of-k1"
    assert requests == 2  # the first model call was replayed from its record, not paid again
    assert _marks(folder) == ["lookup", "lookup"]  # the interrupted tool ran again


def test_typescript_workers_with_and_without_an_api_key(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    created = subprocess.run(
        [str(POLOS), "keys", "create", "--json", "-d", polos_server.database_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["key"]
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])

    # Without the key (the SDK then sends "Bearer " and nothing else) it is refused.
    keyless = TsProcess(folder, "crash_worker.ts", node_env(polos_server.url, free_port()))
    try:
        output = keyless.finish(60)
    finally:
        keyless.kill()
    assert keyless.proc.returncode != 0 and "statusCode: 401" in output, output

    worker, _ = _start_worker(folder, polos_server, extra={"POLOS_API_KEY": key})
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=polos_server.url, headers=headers, timeout=10) as http:
            started = http.post("/api/v1/workflows/ts_child/run", json={"payload": {"n": 1}})
            assert started.status_code == 200, started.text
            execution_id = started.json()["execution_id"]

            def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = http.get(f"/api/v1/executions/{execution_id}").json()
                return body if body["status"] == "completed" else None

            done = _until(finished, "the keyed worker's run")
    finally:
        worker.kill()
    assert done["result"] == {"ts": 101}


def test_a_typescript_run_survives_a_sigkill_of_polos_server(
    database_url: str, ts_node_modules: Path, tmp_path: Path
) -> None:
    server = start_polos_server(database_url, tmp_path)
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    worker: TsProcess | None = None
    try:
        worker, _ = _start_worker(folder, server)
        execution_id = _run(server, "ts_crash", {"n": 4})
        _until(lambda: _marks(folder) == ["first", "second"], "the worker in 'second'")
        server.kill()
        # Back on the same port and database; the SDK retries refused calls (1, 2, 4 s).
        server = start_polos_server(database_url, tmp_path, port=server.port)
        (folder / "go").touch()
        done = _until(lambda: _finished(server, execution_id), "the run finishing", 120)
    finally:
        if worker is not None:
            worker.kill()
        server.stop()
    assert done["status"] == "completed", done
    assert done["result"] == {"doubled": 8, "plusOne": 9}
    assert _marks(folder) == ["first", "second"]  # pushed once: nothing ran twice


def test_a_wait_for_an_event_parks_the_run_and_the_event_resumes_it(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    worker, _ = _start_worker(folder, polos_server)
    try:
        execution_id = _run(polos_server, "ts_waiter", {"topic": "ts/tests/wake"})
        _until(
            lambda: _execution(polos_server, execution_id)["status"] == "waiting",
            "the run parking on its event wait",
        )
        assert _marks(folder) == ["before"]
        published = httpx.post(
            f"{polos_server.url}/api/v1/events/publish",
            json={"topic": "ts/tests/wake", "events": [{"event_type": "go", "data": {"k": 1}}]},
            timeout=10,
        )
        assert published.status_code in (200, 201), published.text
        done = _until(lambda: _finished(polos_server, execution_id), "the run resuming")
    finally:
        worker.kill()
    assert done["status"] == "completed", done
    assert done["result"]["before"] == "ready" and done["result"]["after"] == "done"
    assert _marks(folder) == ["before", "after"]  # "before" replayed, not run again


def test_cancelling_a_run_reaches_the_typescript_worker(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    worker, _ = _start_worker(folder, polos_server)
    try:
        execution_id = _run(polos_server, "ts_crash", {"n": 1})
        _until(lambda: _marks(folder) == ["first", "second"], "the worker reaching 'second'")
        cancelled = httpx.post(
            f"{polos_server.url}/api/v1/executions/{execution_id}/cancel", timeout=10
        )
        assert cancelled.status_code == 200, cancelled.text
        # The push reaches the worker's /cancel (the SDK logs it to stdout).
        worker.wait_for(f"POST /cancel/{execution_id}", timeout=30)
        (folder / "go").touch()  # "second" ends: the server refuses its record
        worker.wait_for("Step 'second' failed", timeout=30)
        worker.wait_for("Request failed: 409 Conflict", timeout=30)
        final = _execution(polos_server, execution_id)
    finally:
        worker.kill()
    assert final["status"] == "cancelled", final
    assert final.get("result") is None
    assert _marks(folder) == ["first", "second"]


def test_a_schedule_made_by_the_typescript_client_fires_its_workflow(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    worker, _ = _start_worker(folder, polos_server, extra={"TS_SCHEDULE": "0 3 * * *"})
    try:
        worker.wait_for("scheduled: ts_tick:ts", timeout=30)
        listed = httpx.get(f"{polos_server.url}/api/v1/schedules/workflows/ts_tick", timeout=10)
        assert "0 3 * * *" in listed.text, listed.text
        # The SDK accepts five-field crons only; to not wait for a minute, the same
        # schedule (workflow and key) is changed to every second, our six-field form.
        changed = httpx.post(
            f"{polos_server.url}/api/v1/schedules",
            json={"workflow_id": "ts_tick", "cron": "* * * * * *", "timezone": "UTC", "key": "ts"},
            timeout=10,
        )
        assert changed.status_code == 200 and changed.json()["schedule_id"] == "ts_tick:ts"
        _until(lambda: _marks(folder).count("tick") >= 2, "two scheduled runs", 60)
        runs = httpx.get(
            f"{polos_server.url}/api/v1/executions",
            params={"workflow_id": "ts_tick"},
            timeout=10,
        ).json()
    finally:
        worker.kill()
    items = runs["executions"] if isinstance(runs, dict) else runs
    done = [r for r in items if r["status"] == "completed"]
    assert done, runs
    # The payload is in the Python SDK's snake_case shape (SDK 0.2.3's SchedulePayload
    # type says camelCase: docs/typescript.md).
    result = _execution(polos_server, done[0]["id"])["result"]
    assert result["schedule_id"] == "ts_tick:ts" and result["key"] == "ts", result
    assert result["timezone"] == "UTC" and "timestamp" in result


# Python workflows of ours, served by the `polos` fixture's worker on the same database.
@workflow(id="ts_py_child")
async def ts_py_child(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    tripled = await ctx.step.run("triple", lambda: payload["n"] * 3)
    return {"py": tripled}


@workflow(id="ts_py_parent")
async def ts_py_parent(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    child = await ctx.step.invoke_and_wait("ts", "ts_child", {"n": payload["n"]})
    return {"fromTs": child}


async def test_typescript_and_python_workflows_await_each_other_as_children(
    polos_server: ServerProcess, polos: Polos, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = ts_project(tmp_path / "worker", ts_node_modules, [DATA / "crash_worker.ts"])
    # Blocking helpers run in a thread: our own worker shares this event loop.
    worker, _ = await asyncio.to_thread(_start_worker, folder, polos_server)
    try:
        ts_run = await asyncio.to_thread(_run, polos_server, "ts_calls_python", {"n": 2})
        py_run = await asyncio.to_thread(_run, polos_server, "ts_py_parent", {"n": 5})
        ts_result = await polos.client.wait_for_result(ts_run, timeout=120)
        py_result = await polos.client.wait_for_result(py_run, timeout=120)
    finally:
        worker.kill()
    assert ts_result == {"fromPython": {"py": 6}}
    assert py_result == {"fromTs": {"ts": 105}}

    async def one_mark() -> bool:
        return _marks(folder) == ["ts_calls_python"]  # the TS parent replayed, once past

    await until(one_mark, 5)


def _doc_example(name: str) -> str:
    for _indent, found, code in DOC_BLOCK.findall(DOCS.read_text()):
        if found == name:
            return textwrap.dedent(code)
    raise AssertionError(f"docs/typescript.md has no typescript block '// example: {name}'")


def test_the_orders_program_of_docs_typescript_runs_as_written(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = ts_project(tmp_path / "orders", ts_node_modules)
    (folder / "orders.ts").write_text(_doc_example("orders"))
    program = TsProcess(folder, "orders.ts", node_env(polos_server.url, free_port()))
    try:
        output = program.finish(180)
    finally:
        program.kill()
    assert program.proc.returncode == 0, output
    assert "parked: waiting for approval\n" in output, output
    assert 'result: {"reserved":true,"approvedBy":"ada","chargeId":"ch_A-1_42"}\n' in output, output


# --- Polos's typescript-examples 08 to 16, unchanged -----------------------------------------

# (prompt, reply) pairs for example 09's menus, in the order it asks: each of
# its three workflows once with the defaults, approving everything, then Exit.
_SUSPEND_RESUME_ANSWERS = [
    ("Enter your choice: ", "1"),
    ("Request ID [REQ-001]: ", ""),
    ("Requester email [alice@example.com]: ", ""),
    ("Description [Purchase new equipment]: ", ""),
    ("Amount [1500.00]: ", ""),
    ("Do you approve this request? (y/n): ", "y"),
    ("Your email [manager@example.com]: ", ""),
    ("Comments (optional): ", "ok"),
    ("Enter your choice: ", "2"),
    ("Form ID [FORM-001]: ", ""),
    ("First name [John]: ", ""),
    ("Last name [Doe]: ", ""),
    ("Email [john.doe@example.com]: ", ""),
    ("Street [123 Main St]: ", ""),
    ("City [San Francisco]: ", ""),
    ("Country [USA]: ", ""),
    ("Subscribe to newsletter? (y/n): ", "y"),
    ("Enable notifications? (y/n): ", "n"),
    ("Enter your choice: ", "3"),
    ("Document ID [DOC-001]: ", ""),
    ("Document title [Q4 Report]: ", ""),
    ("Reviewers (comma-separated) [alice,bob]: ", ""),
    ("Does alice approve? (y/n): ", "y"),
    ("Comments (optional): ", ""),
    ("Rating (1-5) [4]: ", "5"),
    ("Does bob approve? (y/n): ", "y"),
    ("Comments (optional): ", "fine"),
    ("Rating (1-5) [4]: ", ""),
    ("Enter your choice: ", "4"),
]

# What each example must print (its README's promises, values it computes).
EXAMPLES: dict[str, list[str]] = {
    "08-workflow-basics": [
        'Result: {"message":"Hello, Alice!"}',
        "Total items: 3",
        "Valid items: 3",
        "Status: completed",
        "Demo complete!",
    ],
    "09-suspend-resume": [
        "Received suspend event!",
        "  Approved: true",
        "  Approver: manager@example.com",
        "  Form ID: FORM-001",
        "    Name: John Doe",
        "    Newsletter: true",
        "  All Approved: true",
        "Goodbye!",
    ],
    "10-state-persistence": [
        "  Original count: 100",
        "  New count: 105",
        "  Original count: 50",
        "  New count: 75",
        "All demos completed!",
    ],
    "11-error-handling": ["Method used:", "Circuit open:", "Status:", "All demos completed!"],
    "12-shared-queues": [
        "Items processed:",
        "All workflows completed in",
        "(Parallel: all workflows ran simultaneously)",
        "All demos completed!",
    ],
    "13-parallel-review": [
        "  Total Reviews: 4",
        "  Approved Count: 4/4",
        "Chunks processed:",
        "Tasks launched:",
        "All demos completed!",
    ],
    # Its agents' model calls are answered "reviewed (N)" by our fake OpenAI server.
    "14-router-coordinator": [
        "[WORKFLOW FINISH] blog_review",
        '"finalText": "reviewed (',
        "All demos completed!",
    ],
    # Its triggerOnEvent workflows never start: SDK 0.2.3 does not send their topic
    # (docs/protocol.md); the waiter's event comes back with topic and data.
    "15-event-triggered": [
        "Published: true",
        '"eventTopic": "demo/notifications"',
        '"message": "Hello from main.ts!"',
        "All demos completed!",
    ],
    "16-scheduled-workflow": [
        "Schedule ID: schedulable_reminder:demo-user-123",
        "user-bob: 0 9 * * * (Europe/London) -> schedulable_reminder:user-bob",
        "Records cleaned: 150",
        "All demos completed!",
    ],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_polos_typescript_example_runs_unchanged(
    name: str, polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    folder = copy_ts_example(name, ts_node_modules, tmp_path)
    extra: dict[str, str] = {}
    fake = None
    if name == "14-router-coordinator":
        from polos.testing import FakeOpenAIServer, Turn

        fake = FakeOpenAIServer([Turn.reply(f"reviewed ({i})") for i in range(40)])
        fake.__enter__()
        extra = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": fake.base_url}
    try:
        main = TsProcess(folder, "main.ts", node_env(polos_server.url, free_port(), extra))
        try:
            if name == "09-suspend-resume":
                main.answer(_SUSPEND_RESUME_ANSWERS)
            output = main.finish(300)
        finally:
            main.kill()
    finally:
        if fake is not None:
            fake.__exit__(None, None, None)
    if fake is not None:
        assert fake.requests and all(r.body["model"] == "gpt-4o-mini" for r in fake.requests)
    context = f"{output[-6000:]}\n--- polos.log ---\n{main.log()}"
    assert main.proc.returncode == 0, context
    for line in EXAMPLES[name]:
        assert line in output, f"{line!r} missing:\n{context}"
    # The examples catch their own errors and print them; none may appear.
    assert "\nError: " not in output, context
    assert "OrchestratorApiError" not in output, context
    if name == "12-shared-queues":
        _one_at_a_time(output)


def _one_at_a_time(output: str) -> None:
    """Example 12's queueConcurrencyLimit=1 demo: each slow_workflow (1 to 3) ends
    before the next starts (the workflows print both, in the worker's process)."""
    section = output.split("--- Concurrency = 1")[1].split("--- Concurrency = 3")[0]
    events = re.findall(r"\[Workflow ([123])\] (Started|Completed)!", section)
    assert len(events) == 6, section
    for (started, first), (ended, second) in zip(events[::2], events[1::2], strict=True):
        assert (first, second) == ("Started", "Completed") and started == ended, section


async def test_polos_typescript_example_22_approval_page(
    polos_server: ServerProcess, ts_node_modules: Path, tmp_path: Path
) -> None:
    """Example 22 (not in 08-16): its suspend's ``_approval_url`` is our approval page,
    which a person (headless Chromium, JavaScript off) fills in and submits."""
    folder = copy_ts_example("22-approval-page", ts_node_modules, tmp_path)
    # The example rewrites the URL for Polos's UI dev server unless told where the UI is.
    env = node_env(polos_server.url, free_port(), {"POLOS_UI_URL": polos_server.url})
    main = TsProcess(folder, "main.ts", env)
    try:
        await asyncio.to_thread(main.wait_for, "Waiting for response...", timeout=90)
        [approval_url] = re.findall(
            rf"^  ({re.escape(polos_server.url)}/approve/\S+)$", main.output, re.M
        )
        await submit_approval_page(approval_url)
        output = await asyncio.to_thread(main.finish, 90)
    finally:
        main.kill()
    assert main.proc.returncode == 0, output
    for line in [
        "  Workflow completed!",
        "  Status:      deployed",
        "  Approved by: Grace Hopper",
        "  Reason:      Release train 42",
    ]:
        assert line in output.splitlines(), f"{line!r} missing:\n{output}\n{main.log()}"
