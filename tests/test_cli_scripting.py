"""The CLI as a script uses it (issue 14, point 4): real ``polos`` processes.

Bare ids, ``--json``, id prefixes, tables that never cut an id, mistakes that
exit non-zero naming what was wrong, the worker's file and ``module:attr``
forms, ``--version``, a fast failure on an unreachable database,
``polos schedules`` and ``polos init``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from polos import Polos, PolosClient, WorkflowContext, workflow
from polos.cli.loading import LoadError, load_target
from polos.distribution import package_version
from sdk_kit import ServerProcess

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

FLOWS = """
from pydantic import BaseModel
from polos import WorkflowContext, workflow


class Amount(BaseModel):
    amount: int


@workflow(id="cli_typed")
async def cli_typed(ctx: WorkflowContext, input: Amount) -> dict:
    decision = await ctx.step.suspend("approval", data={"amount": input.amount})
    return {"approved": decision.data["ok"]}
"""


def cli(
    *args: str, cwd: Path, url: str | None = None, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("POLOS_DATABASE_URL", None)
    if url is not None:
        env["POLOS_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "polos.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def current(url: str) -> dict[str, str]:
    """Every run's status, read in this process."""

    async def read() -> dict[str, str]:
        async with PolosClient(database_url=url) as client:
            return {e.id: e.status for e in await client.list_executions()}

    return asyncio.run(read())


def status_becomes(url: str, cwd: Path, execution_id: str, status: str) -> None:
    """Polled in this process (a CLI process per look would cost half a second)."""

    async def look() -> None:
        async with PolosClient(database_url=url) as client:
            for _ in range(200):
                if (await client.get_execution(execution_id)).status == status:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"{execution_id} never became {status}")

    asyncio.run(look())


def test_a_script_drives_runs_by_bare_ids_and_prefixes(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "typed_flows.py").write_text(FLOWS)
    env = {**os.environ, "POLOS_DATABASE_URL": database_url}
    worker = subprocess.Popen(  # the file form: polos worker path/to/file.py
        [sys.executable, "-m", "polos.cli", "worker", "flows/typed_flows.py", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert worker.stdout is not None
        serving = json.loads(worker.stdout.readline())
        assert "cli_typed" in serving["workflows"]

        # A payload that fails the input model the worker published: refused, nothing queued.
        bad = cli(
            "invoke", "cli_typed", "--payload", '{"amount": "lots"}', cwd=tmp_path, url=database_url
        )
        assert bad.returncode == 1 and bad.stdout == ""
        assert "cli_typed" in bad.stderr and "amount" in bad.stderr and "integer" in bad.stderr
        assert current(database_url) == {}

        started = cli(
            "invoke", "cli_typed", "--payload", '{"amount": 7}', cwd=tmp_path, url=database_url
        )
        assert started.returncode == 0, started.stderr
        run_id = started.stdout.strip()
        assert UUID.fullmatch(run_id), started.stdout  # bare: ID=$(polos invoke ...) works
        status_becomes(database_url, tmp_path, run_id, "waiting")

        rows = json.loads(cli("list", "--json", cwd=tmp_path, url=database_url).stdout)
        assert [(r["id"], r["workflow_id"], r["status"]) for r in rows] == [
            (run_id, "cli_typed", "waiting")
        ]
        # Tables never cut an id, even piped to a narrow terminal.
        narrow = cli("list", cwd=tmp_path, url=database_url, columns=40)
        assert narrow.returncode == 0 and run_id in narrow.stdout

        # A mistyped step key on resume: refused naming the step it waits at; still waiting.
        prefix = run_id[:8]
        typo = cli(
            "resume",
            "cli_typed",
            prefix,
            "aproval",
            "--data",
            '{"ok": true}',
            cwd=tmp_path,
            url=database_url,
        )
        assert typo.returncode == 1 and "'approval'" in typo.stderr and "'aproval'" in typo.stderr
        time.sleep(0.3)
        assert current(database_url)[run_id] == "waiting"

        resumed = cli(
            "resume",
            "cli_typed",
            prefix,
            "approval",
            "--data",
            '{"ok": true}',
            cwd=tmp_path,
            url=database_url,
        )
        assert resumed.returncode == 0 and resumed.stdout.strip() == f"resumed {run_id} at approval"
        status_becomes(database_url, tmp_path, run_id, "completed")
        shown = cli("show", prefix, "--json", cwd=tmp_path, url=database_url)
        assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == run_id
        watched = cli("watch", prefix, cwd=tmp_path, url=database_url)
        assert watched.returncode == 0 and run_id in watched.stdout

        # Cancelling a finished run is an error; a waiting one is cancelled (by prefix, --json).
        finished = cli("cancel", prefix, cwd=tmp_path, url=database_url)
        assert finished.returncode == 1 and f"{run_id} is already completed" in finished.stderr
        other = cli(
            "invoke", "cli_typed", "-p", '{"amount": 1}', "--json", cwd=tmp_path, url=database_url
        )
        other_id = json.loads(other.stdout)["execution_id"]
        status_becomes(database_url, tmp_path, other_id, "waiting")
        waiting = json.loads(cli("suspended", "--json", cwd=tmp_path, url=database_url).stdout)
        assert [(w["execution_id"], w["step_key"], w["data"]) for w in waiting] == [
            (other_id, "approval", {"amount": 1})
        ]
        cancelled = cli("cancel", other_id[:10], "--json", cwd=tmp_path, url=database_url)
        assert cancelled.returncode == 0, cancelled.stderr
        assert json.loads(cancelled.stdout) == {"execution_id": other_id, "status": "cancelled"}

        # polos schedules create | list | delete
        made = cli(
            "schedules",
            "create",
            "cli_typed",
            "--cron",
            "0 9 * * 1-5",
            "--key",
            "weekdays",
            cwd=tmp_path,
            url=database_url,
        )
        assert made.returncode == 0, made.stderr
        schedule_id = made.stdout.strip()
        shown = json.loads(
            cli("schedules", "list", "--json", cwd=tmp_path, url=database_url).stdout
        )
        assert [(s["schedule_id"], s["cron"], s["key"]) for s in shown] == [
            (schedule_id, "0 9 * * 1-5", "weekdays")
        ]
        nobody = cli(
            "schedules",
            "create",
            "cli_nobody",
            "--cron",
            "0 9 * * *",
            cwd=tmp_path,
            url=database_url,
        )
        assert (
            nobody.returncode == 1
            and "cli_nobody" in nobody.stderr
            and "cli_typed" in nobody.stderr
        )
        gone = cli(
            "schedules", "delete", "cli_typed", "--key", "weekdays", cwd=tmp_path, url=database_url
        )
        assert gone.returncode == 0, gone.stderr
        twice = cli(
            "schedules", "delete", "cli_typed", "--key", "weekdays", cwd=tmp_path, url=database_url
        )
        assert twice.returncode == 1 and "weekdays" in twice.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_invoke_through_the_server_checks_the_published_input_model(
    database_url: str, polos_server: ServerProcess, tmp_path: Path
) -> None:
    """``polos invoke --api-url``: the server (a process without the workflow's code)
    refuses a payload that does not fit the input model the worker published, with a
    422 naming the field, before anything is queued; the CLI shows it and exits 1."""
    (tmp_path / "typed_flows.py").write_text(FLOWS)
    env = {**os.environ, "POLOS_DATABASE_URL": database_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "polos.cli", "worker", "typed_flows.py", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    api = ("--api-url", polos_server.url)
    try:
        assert worker.stdout is not None
        assert "cli_typed" in json.loads(worker.stdout.readline())["workflows"]

        bad = cli("invoke", "cli_typed", "--payload", '{"amount": "lots"}', *api, cwd=tmp_path)
        assert bad.returncode == 1 and bad.stdout == ""
        said = " ".join(bad.stderr.split())
        assert "cli_typed" in said and "amount" in said and "integer" in said
        assert "send a payload that fits that model" in said and "422" in said
        missing = cli("invoke", "cli_typed", "--payload", "{}", *api, cwd=tmp_path)
        assert missing.returncode == 1 and "'amount' is a required property" in missing.stderr
        assert current(database_url) == {}

        # The HTTP API says the same, with the field's path; a batch is refused whole.
        with httpx.Client(base_url=polos_server.url, timeout=30) as http:
            one = http.post("/api/v1/workflows/cli_typed/run", json={"payload": {"amount": []}})
            assert one.status_code == 422, one.text
            assert one.json()["error_type"] == "VALIDATION_ERROR"
            assert one.json()["detail"][0]["loc"] == ["payload", "amount"]
            batch = http.post(
                "/api/v1/workflows/batch_run",
                json={
                    "workflows": [
                        {"workflow_id": "cli_typed", "payload": {"amount": 1}},
                        {"workflow_id": "cli_typed", "payload": {"amount": "x"}},
                    ]
                },
            )
            assert batch.status_code == 422, batch.text
            assert batch.json()["detail"][0]["loc"] == ["workflows", 1, "payload", "amount"]
        assert current(database_url) == {}

        # What the worker's model coerces ("7" for an integer) is let through, and runs.
        good = cli("invoke", "cli_typed", "--payload", '{"amount": "7"}', *api, cwd=tmp_path)
        assert good.returncode == 0, good.stderr
        run_id = good.stdout.strip()
        status_becomes(database_url, tmp_path, run_id, "waiting")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


@workflow(id="cli_prefix_noop")
async def cli_prefix_noop(ctx: WorkflowContext, input: dict) -> int:
    return 1


class _Order(BaseModel):
    amount: int
    rush: bool = False
    weight: float = 1.0


@workflow(id="cli_lax_order")
async def cli_lax_order(ctx: WorkflowContext, order: _Order) -> int:
    return order.amount


async def test_the_payload_check_takes_what_the_worker_would_coerce(polos: Polos) -> None:
    from polos.cli.payloads import check_payload
    from polos.errors import InvalidPayloadError

    # The worker (pydantic, lax) takes these; so does the CLI's check.
    for payload in (
        {"amount": "7"},
        {"amount": 7.0, "rush": "yes", "weight": "2.5"},
        {"amount": True, "rush": 1},
    ):
        await check_payload(polos.client, "cli_lax_order", payload)
        assert await cli_lax_order.run(polos, payload, timeout=20) == int(payload["amount"])
    # And refuses what the worker would refuse, naming the field.
    for payload, field in (
        ({"amount": "lots"}, "amount"),
        ({"amount": 7.5}, "amount"),
        ({"amount": 1, "rush": "maybe"}, "rush"),
        ({}, "amount"),
    ):
        with pytest.raises(InvalidPayloadError, match=field):
            await check_payload(polos.client, "cli_lax_order", payload)


async def test_an_ambiguous_prefix_lists_the_runs_it_fits(
    polos: Polos, database_url: str, tmp_path: Path
) -> None:
    from polos.types import BatchWorkflowInput

    # 17 uuids: two of them share a first hex digit, whatever they are.
    handles = await polos.batch_invoke([BatchWorkflowInput(id="cli_prefix_noop", payload={})] * 17)
    by_first: dict[str, list[str]] = defaultdict(list)
    for h in handles:
        by_first[h.id[0]].append(h.id)
    first, ids = next((k, v) for k, v in by_first.items() if len(v) > 1)
    done = cli("cancel", first, cwd=tmp_path, url=database_url)
    assert done.returncode == 1 and "more than one execution" in done.stderr
    assert all(i in done.stderr for i in ids)
    nothing = cli("cancel", "zz-no-run", cwd=tmp_path, url=database_url)
    assert nothing.returncode == 1 and "no execution with id 'zz-no-run'" in nothing.stderr


def test_the_other_commands_speak_json(database_url: str, tmp_path: Path) -> None:
    published = cli(
        "publish", "cli.json", "--data", '{"x": 1}', "--json", cwd=tmp_path, url=database_url
    )
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["data"] == {"x": 1}
    queues = cli("queues", "--json", cwd=tmp_path, url=database_url)
    assert queues.returncode == 0 and isinstance(json.loads(queues.stdout), list)
    key = json.loads(
        cli("keys", "create", "--name", "ci", "--json", cwd=tmp_path, url=database_url).stdout
    )
    assert key["name"] == "ci" and key["key"]
    [row] = json.loads(cli("keys", "list", "--json", cwd=tmp_path, url=database_url).stdout)
    assert row["key_id"] == key["key_id"] and row["revoked_at"] is None and "key" not in row


def test_an_unreachable_database_fails_fast_naming_it(tmp_path: Path) -> None:
    began = time.monotonic()
    done = cli("list", "-d", "postgresql://polos:hunter2@127.0.0.1:1/nowhere", cwd=tmp_path)
    assert done.returncode == 1 and time.monotonic() - began < 15
    assert "127.0.0.1:1" in done.stderr and "hunter2" not in done.stderr + done.stdout
    assert "unreachable" in done.stderr and "POLOS_DATABASE_URL" in done.stderr


def test_version_bad_options_and_modules_that_cannot_be_imported(tmp_path: Path) -> None:
    unknown = cli("list", "--status", "bogus", cwd=tmp_path)
    assert unknown.returncode == 2 and "bogus" in unknown.stderr and "waiting" in unknown.stderr
    bad_cron = cli("schedules", "create", "some_flow", "--cron", "every day", cwd=tmp_path)
    assert bad_cron.returncode == 2 and "every day" in bad_cron.stderr
    version = cli("--version", cwd=tmp_path)
    assert (
        version.returncode == 0 and version.stdout.strip() == f"polos-durable {package_version()}"
    )
    (tmp_path / "broken.py").write_text("import json\n\nVALUE = 1 / 0\n")
    (tmp_path / "needs.py").write_text("import not_installed_pkg_xyz\n")
    for target, said in [
        ("no_such_flows", "no module named 'no_such_flows'"),
        ("no_such_flows.py", "no file 'no_such_flows.py'"),
        ("broken.py", "ZeroDivisionError: division by zero"),
        ("needs", "'not_installed_pkg_xyz', which is not installed"),
        ("broken_attr:thing", "no module named 'broken_attr'"),
    ]:
        done = cli("worker", target, cwd=tmp_path)
        assert done.returncode == 1 and said in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    line = cli("worker", "broken.py", cwd=tmp_path).stderr
    assert "broken.py, line 3" in line


def test_worker_targets_module_file_and_attr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "pkg_cli_target").mkdir()
    (tmp_path / "pkg_cli_target" / "__init__.py").write_text("")
    (tmp_path / "pkg_cli_target" / "flows.py").write_text("class Box:\n    item = 42\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loose_cli_target.py").write_text("from neighbour_cli_target import N\n")
    (tmp_path / "sub" / "neighbour_cli_target.py").write_text("N = 5\n")
    assert load_target("pkg_cli_target.flows:Box.item", cwd=tmp_path) == 42
    assert load_target("sub/loose_cli_target.py", cwd=tmp_path).N == 5  # its neighbours import
    with pytest.raises(LoadError, match="has no attribute 'Nope'"):
        load_target("pkg_cli_target.flows:Nope", cwd=tmp_path)


def test_init_writes_a_project_whose_tests_pass(tmp_path: Path) -> None:
    made = cli("init", "shop", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    assert {"flows.py", "test_flows.py", "conftest.py", "pytest.ini", "README.md"} <= {
        p.name for p in project.iterdir()
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLOS_", "PYTEST_"))}
    tested = subprocess.run(
        [str(Path(sys.executable).parent / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout
    again = cli("init", "shop", cwd=tmp_path)
    assert again.returncode == 1 and "flows.py" in again.stderr and "--force" in again.stderr


@workflow(id="cli_keyed_unserved")
async def cli_keyed_unserved(ctx: WorkflowContext) -> None:
    return None


def test_polos_queues_counts_runs_and_keys_and_json_lists_the_keys(
    database_url: str, tmp_path: Path
) -> None:
    async def queue_runs() -> None:  # queued runs nobody serves, over three keys
        async with PolosClient(database_url=database_url) as client:
            for key in ["a", "a", "b", "c"]:
                await client.invoke(cli_keyed_unserved, queue="cli_keyed", concurrency_key=key)

    asyncio.run(queue_runs())
    table = cli("queues", cwd=tmp_path, url=database_url)
    assert table.returncode == 0, table.stderr
    [row] = [line for line in table.stdout.splitlines() if "cli_keyed" in line]
    assert re.findall(r"\d+", row) == ["4", "0", "0", "3"]  # queued, running, waiting, keys
    listed = cli("queues", "--json", cwd=tmp_path, url=database_url)
    [queue] = [q for q in json.loads(listed.stdout) if q["name"] == "cli_keyed"]
    assert queue["key_count"] == 3
    assert queue["by_key"] == {"a": {"queued": 2}, "b": {"queued": 1}, "c": {"queued": 1}}
