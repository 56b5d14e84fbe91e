"""The local sandbox: LocalEnvironment on its own, then agents driving the six
sandbox tools through the real openai SDK against the fake model server,
on SQLite and PostgreSQL (workspace files, command output, cleanup, session
scope, bad input, and a worker SIGKILLed in the middle of a command)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from example_agents_kit import last_output, tool_outputs
from polos import (
    ExecOptions,
    ExecToolConfig,
    GlobOptions,
    GrepOptions,
    LocalEnvironment,
    LocalEnvironmentConfig,
    ManagedSandbox,
    PolosClient,
    SandboxManager,
    SandboxToolsConfig,
    WorkflowContext,
    sandbox_tools,
    workflow,
)
from polos.execution import parse_duration, truncate_output
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn
from sandbox_kit import (
    live_sandboxes,
    make_agent,
    pid_running,
    serving,
    set_workspaces,
    then,
    until_no_sandboxes,
    workspaces,
)
from toolkit.processes import WorkerProcess

# Runs commands without asking: these tests are about the tools, not exec security.
UNATTENDED = SandboxToolsConfig(
    env="local", exec=ExecToolConfig(security="allow-always"), file_approval="none"
)


async def _env(tmp_path: Path, max_output_chars: int | None = None) -> LocalEnvironment:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = LocalEnvironment(
        LocalEnvironmentConfig(cwd=str(work), path_restriction=str(work)), max_output_chars
    )
    await env.initialize()
    return env


# --- LocalEnvironment on its own --------------------------------------------------------------


async def test_exec_reports_output_exit_code_and_takes_options(tmp_path: Path) -> None:
    env = await _env(tmp_path)
    (tmp_path / "work" / "sub").mkdir()
    result = await env.exec(
        "pwd; echo $GREETING; cat; echo oops >&2; exit 3",
        ExecOptions(cwd="sub", env={"GREETING": "hello"}, stdin="from stdin\n"),
    )
    assert result.exit_code == 3
    assert result.stdout == f"{tmp_path / 'work' / 'sub'}\nhello\nfrom stdin\n"
    assert result.stderr == "oops\n"
    assert not result.truncated and result.duration_ms >= 0
    colored = await env.exec("printf '\\033[31mred\\033[0m'")
    assert colored.stdout == "red"


async def test_a_hanging_command_is_killed_with_its_children(tmp_path: Path) -> None:
    env = await _env(tmp_path)
    started = time.monotonic()
    result = await env.exec("sleep 60 & echo $! > child.pid; wait", ExecOptions(timeout=1))
    assert time.monotonic() - started < 10
    assert result.exit_code == 137
    assert "timeout of 1s exceeded" in result.stderr
    child = int((tmp_path / "work" / "child.pid").read_text())
    for _ in range(100):
        if not pid_running(child):
            break
        await asyncio.sleep(0.02)
    assert not pid_running(child), "the command's background child outlived its timeout"


async def test_huge_output_is_truncated_and_memory_stays_bounded(tmp_path: Path) -> None:
    env = await _env(tmp_path, max_output_chars=1000)
    result = await env.exec("seq 1 2000000")  # ~15 MB
    assert result.truncated and result.exit_code == 0
    assert len(result.stdout) < 1200
    assert result.stdout.startswith("1\n2\n3\n") and result.stdout.endswith("1999999\n2000000\n")
    assert "--- truncated" in result.stdout
    endless = await env.exec("yes polos", ExecOptions(timeout=1))
    assert endless.truncated and endless.exit_code == 137 and len(endless.stdout) < 1200
    assert truncate_output("abc", 10) == ("abc", False)


async def test_paths_outside_the_workspace_are_refused_clearly(tmp_path: Path) -> None:
    env = await _env(tmp_path)
    with pytest.raises(ValueError, match=r"'\.\./escape.txt' resolves to .*outside the workspace"):
        await env.write_file("../escape.txt", "x")
    with pytest.raises(ValueError, match="outside the workspace"):
        await env.write_file("/etc/polos-test", "x")
    assert not (tmp_path / "escape.txt").exists()
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, tmp_path / "work" / "link.txt")
    with pytest.raises(ValueError, match=r"symbolic link .* outside the workspace"):
        await env.read_file("link.txt")
    with pytest.raises(ValueError, match="outside the workspace"):
        await env.write_file("link.txt", "overwrite through the link")
    assert secret.read_text() == "top secret"
    with pytest.raises(FileNotFoundError, match=r"no such file: 'missing\.txt'"):
        await env.read_file("missing.txt")


async def test_files_binary_detection_glob_and_grep(tmp_path: Path) -> None:
    env = await _env(tmp_path)
    await env.write_file("src/app.py", "import os\nprint('hello')\n# TODO: more\n")
    await env.write_file("src/lib/util.py", "def helper():\n    return 'hello'\n")
    await env.write_file("notes.md", "hello notes\n")
    (tmp_path / "work" / "blob.bin").write_bytes(b"\x89PNG\x00\x01\x02")
    assert await env.read_file("src/app.py") == "import os\nprint('hello')\n# TODO: more\n"
    assert await env.file_exists("notes.md") and not await env.file_exists("nope")
    with pytest.raises(ValueError, match=r"'blob\.bin' is a binary file"):
        await env.read_file("blob.bin")
    work = tmp_path / "work"
    assert await env.glob("*.py") == [str(work / "src/app.py"), str(work / "src/lib/util.py")]
    assert await env.glob("*.py", GlobOptions(cwd="src/lib")) == [str(work / "src/lib/util.py")]
    matches = await env.grep("hello", GrepOptions(include=["*.py"]))
    assert sorted((m.path, m.line, m.text) for m in matches) == [
        ("src/app.py", 2, "print('hello')"),
        ("src/lib/util.py", 2, "    return 'hello'"),
    ]
    assert len(await env.grep("hello", GrepOptions(max_results=1))) == 1
    [todo] = await env.grep("TODO", GrepOptions(context_lines=1))
    assert todo.path == "src/app.py" and todo.line == 3 and todo.context == "print('hello')"
    assert await env.grep("binary-never-matches") == []


async def test_bad_configuration_is_named(tmp_path: Path) -> None:
    env = LocalEnvironment(LocalEnvironmentConfig(cwd=str(tmp_path / "absent")))
    with pytest.raises(RuntimeError, match="absent does not exist"):
        await env.initialize()
    with pytest.raises(NotImplementedError, match="E2B sandboxes are not supported"):
        sandbox_tools(SandboxToolsConfig(env="e2b"))
    e2b = ManagedSandbox(SandboxToolsConfig(env="e2b"), "worker-1", "proj")
    with pytest.raises(NotImplementedError, match=r"use env='docker'.* or env='local'"):
        await e2b.get_environment()
    with pytest.raises(ValueError, match="invalid duration '5 minutes'"):
        parse_duration("5 minutes")
    assert parse_duration("30m") == 1800 and parse_duration("3d") == 3 * 86400


def test_tools_are_chosen_by_name_with_polos_inputs() -> None:
    tools = sandbox_tools(SandboxToolsConfig(env="local", tools=["read", "exec"]))
    assert [t.id for t in tools] == ["exec", "read"]
    exec_tool, read_tool = tools
    assert set(exec_tool.parameters["properties"]) == {"command", "cwd", "env", "timeout"}
    assert exec_tool.parameters["required"] == ["command"]
    assert set(read_tool.parameters["properties"]) == {"path", "offset", "limit"}
    with pytest.raises(ValueError, match="Input should be 'exec', 'read'"):
        SandboxToolsConfig(tools=["shell"])  # type: ignore[list-item]


async def test_manager_shares_sandboxes_and_ends_them_by_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = set_workspaces(monkeypatch, tmp_path / "workspaces")
    manager = SandboxManager("worker-1", "proj")
    session = SandboxToolsConfig(env="local", scope="session", idle_destroy_timeout="0m")
    # Concurrent first calls of one session share one sandbox and one environment.
    a, b = await asyncio.gather(
        manager.get_or_create_sandbox(session, "run-1", "s-1"),
        manager.get_or_create_sandbox(session, "run-2", "s-1"),
    )
    assert a is b and a.active_execution_ids == {"run-1", "run-2"}
    first, second = await asyncio.gather(a.get_environment(), a.get_environment())
    assert first is second and first.get_cwd() == str(root / "proj" / "s-1")
    with pytest.raises(ValueError, match="this run has no session id"):
        await manager.get_or_create_sandbox(session, "run-3")
    # One sandbox per run tree; a folder the user chose survives the run's end.
    own = tmp_path / "mine"
    own.mkdir()
    chosen = UNATTENDED.model_copy(update={"local": LocalEnvironmentConfig(cwd=str(own))})
    one = await manager.get_or_create_sandbox(UNATTENDED, "root-1")
    assert one is await manager.get_or_create_sandbox(UNATTENDED, "root-1")
    other = await manager.get_or_create_sandbox(chosen, "root-2")
    assert other is not one
    made = (await one.get_environment()).get_cwd()
    await (await other.get_environment()).write_file("kept.txt", "x")
    await manager.on_execution_complete("root-1")
    await manager.on_execution_complete("root-2")
    assert one.destroyed and other.destroyed and not Path(made).exists()
    assert (own / "kept.txt").read_text() == "x"
    # Idle session sandboxes are torn down; the session's files stay.
    await (await a.get_environment()).write_file("notes.txt", "n")
    await manager.sweep_idle()
    assert a.destroyed and manager.get_session_sandbox("s-1") is None
    assert (root / "proj" / "s-1" / "notes.txt").exists()
    await manager.destroy_all()


@workflow(id="sandbox_reclaim_target")
async def sandbox_reclaim_target(ctx: WorkflowContext, payload: dict[str, str]) -> None:
    return None


async def test_a_dead_workers_workspace_goes_once_its_run_has_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """A worker that dies before the run it served ends leaves the workspace it made;
    another worker's sweep removes it once the run has ended, never before."""
    root = set_workspaces(monkeypatch, tmp_path / "workspaces")
    async with PolosClient(database_url=database_url) as client:
        # No worker serves these: the runs stay queued until one is cancelled.
        ended = await client.invoke(sandbox_reclaim_target.id, {})
        waiting = await client.invoke(sandbox_reclaim_target.id, {})
        dead = SandboxManager("worker-dead", "proj", client)
        for execution_id in (ended.id, waiting.id):
            sandbox = await dead.get_or_create_sandbox(UNATTENDED, execution_id)
            await (await sandbox.get_environment()).write_file("work.txt", execution_id)
        assert len(list((root / "proj").iterdir())) == 2
        survivor = SandboxManager("worker-alive", "proj", client)
        assert await survivor.reclaim_workspaces() == 0  # both runs still live
        # The worker dies here: nothing of it runs any more, above all not the task
        # watching its runs end (left running, it would remove the workspace itself
        # once the cancel lands, racing the survivor's sweep). One run is then cancelled.
        dead.stop_sweep()
        assert await client.cancel_execution(ended.id)
        assert await survivor.reclaim_workspaces() == 1
        left = list((root / "proj").iterdir())
        assert [(p / "work.txt").read_text() for p in left] == [waiting.id]
        assert len(list((root / ".owners" / "proj").iterdir())) == 1
        assert await survivor.reclaim_workspaces() == 0  # the waiting run keeps its files
        await dead.destroy_all()
        await survivor.destroy_all()


# --- agents driving the tools (SQLite and PostgreSQL) ---------------------------------------


async def test_agent_uses_all_six_tools_and_the_sandbox_is_cleaned_up(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = set_workspaces(monkeypatch, tmp_path / "workspaces")
    seen: dict[str, object] = {}

    def on_disk(request: RecordedRequest) -> None:
        [folder] = workspaces(root)  # made lazily, by the first tool call
        seen["folder"] = folder
        seen["file"] = (folder / "src" / "hello.js").read_text()

    with FakeOpenAIServer() as llm:
        llm.add_turns(
            Turn.call("write", {"path": "src/hello.js", "content": 'console.log("hi");\n'}),
            then(
                on_disk,
                Turn.call(
                    "edit",
                    {
                        "path": "src/hello.js",
                        "old_text": "hi",
                        "new_text": "Hello from the sandbox!",
                    },
                ),
            ),
            Turn.call("exec", {"command": "node src/hello.js && pwd"}),
            Turn.call("read", {"path": "src/hello.js"}),
            Turn.call("glob", {"pattern": "*.js"}),
            Turn.call("grep", {"pattern": "Hello", "include": ["*.js"]}),
            lambda r: Turn.reply(f"found {last_output(r)['matches'][0]['path']}"),
        )
        agent, tools = make_agent(llm, UNATTENDED)
        async with serving(database_url, agent, tools) as polos:
            result = await agent.run(polos, "write and run hello.js", timeout=60)
            await until_no_sandboxes()
        outputs = [tool_outputs(r)[-1] for r in llm.requests[1:]]
    assert result.text == "found src/hello.js"
    assert [t.name for t in result.tool_calls] == ["write", "edit", "exec", "read", "glob", "grep"]
    assert not any(t.is_error for t in result.tool_calls)
    folder = seen["folder"]
    assert isinstance(folder, Path) and folder.parent == root / "default"
    assert seen["file"] == 'console.log("hi");\n'
    write, edit, run, read, found, grep = outputs
    assert write == {"success": True, "path": "src/hello.js"} and edit["success"] is True
    assert run["exit_code"] == 0 and run["stdout"] == f"Hello from the sandbox!\n{folder}\n"
    assert read["content"] == 'console.log("Hello from the sandbox!");\n'
    assert found == {"files": [f"{folder}/src/hello.js"]}
    assert grep["matches"][0]["line"] == 1
    # The run ended: its execution-scoped sandbox and workspace are gone.
    assert not folder.exists() and live_sandboxes() == 0


async def test_bad_input_reaches_the_model_and_the_run_goes_on(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_workspaces(monkeypatch, tmp_path / "workspaces")
    config = UNATTENDED.model_copy(
        update={"exec": ExecToolConfig(security="allow-always", timeout=1, max_output_chars=500)}
    )
    with FakeOpenAIServer() as llm:
        llm.add_turns(
            Turn.call("exec", {"command": "sleep 30"}),
            Turn.call("exec", {"command": "seq 1 100000"}),
            Turn.call("write", {"path": "../../outside.txt", "content": "x"}),
            Turn.call("read", {"path": "nothing-here.txt"}),
            Turn.call("exec", {"command": ""}),
            Turn.reply("coped"),
        )
        agent, tools = make_agent(llm, config)
        async with serving(database_url, agent, tools) as polos:
            started = time.monotonic()
            result = await agent.run(polos, "try things", timeout=60)
            elapsed = time.monotonic() - started
        hang, huge, escape, missing, empty = [tool_outputs(r)[-1] for r in llm.requests[1:]]
    assert result.text == "coped" and elapsed < 30
    assert hang["exit_code"] == 137 and "timeout of 1s exceeded" in hang["stderr"]
    assert huge["truncated"] is True and len(huge["stdout"]) < 600
    assert huge["stdout"].endswith("99999\n100000\n")
    assert "outside the workspace" in escape and "write inside the workspace" in escape
    assert not (tmp_path / "outside.txt").exists()
    assert "no such file: 'nothing-here.txt'" in missing
    assert "command is empty" in empty


async def test_session_scope_keeps_one_workspace_across_runs(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = set_workspaces(monkeypatch, tmp_path / "workspaces")
    config = UNATTENDED.model_copy(update={"scope": "session"})
    with FakeOpenAIServer() as llm:
        llm.add_turns(
            Turn.call("write", {"path": "notes.txt", "content": "remember me"}),
            Turn.reply("noted"),
            Turn.call("read", {"path": "notes.txt"}),
            lambda r: Turn.reply(last_output(r)["content"]),
            Turn.call("exec", {"command": "ls"}),
            lambda r: Turn.reply(f"[{last_output(r)['stdout']}]"),
        )
        agent, tools = make_agent(llm, config)
        async with serving(database_url, agent, tools) as polos:
            first = await agent.run(polos, "note it", session_id="s-1", timeout=60)
            second = await agent.run(polos, "what did I say?", session_id="s-1", timeout=60)
            other = await agent.run(polos, "list", session_id="s-2", timeout=60)
            # Session sandboxes outlive their runs; only the idle sweep ends them.
            assert live_sandboxes() == 2
    assert first.text == "noted" and second.text == "remember me" and other.text == "[]"
    assert (root / "default" / "s-1" / "notes.txt").read_text() == "remember me"


async def test_worker_killed_mid_exec_resumes_without_rerunning_recorded_calls(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "workspaces"
    log = tmp_path / "worker.log"

    def answer(request: RecordedRequest) -> Turn:
        return Turn.reply(last_output(request)["stdout"])

    with FakeOpenAIServer(
        [
            Turn.call("exec", {"command": "echo one >> log.txt"}),
            # Sleeps the first time only (the flag file), so the rerun finishes.
            Turn.call(
                "exec",
                {
                    "command": "echo two >> log.txt; echo $$ > shell.pid; "
                    "if [ ! -e flag ]; then touch flag; sleep 60; fi"
                },
            ),
            Turn.call("exec", {"command": "cat log.txt"}),
            answer,
        ]
    ) as llm:
        env = {"POLOS_TEST_LLM_URL": llm.base_url, "POLOS_WORKSPACES_DIR": str(root)}
        worker = WorkerProcess(database_url, log, modules="sandbox_agents", **env)
        try:
            async with PolosClient(database_url=database_url) as client:
                handle = await client.invoke("sbx_crash_agent", {"input": "go"})
                flags: list[Path] = []
                for _ in range(1500):
                    flags = list(root.glob("default/*/flag"))
                    if flags:
                        break
                    await asyncio.sleep(0.02)
                assert flags, f"the second command never started:\n{worker.output()}"
                shell = int((flags[0].parent / "shell.pid").read_text())
                worker.kill()  # in the middle of `sleep 60`
                assert pid_running(shell), "the command should outlive the killed worker"
                restarted = WorkerProcess(database_url, log, modules="sandbox_agents", **env)
                try:
                    result = await handle.result(client, timeout=60)
                finally:
                    restarted.stop()
        finally:
            worker.kill()
        requests = len(llm.requests)
    # The recorded first command ran once; the interrupted one ran again, once.
    assert result.text == "one\ntwo\ntwo\n"
    assert requests == 4, "a recorded LLM call was paid twice"
    assert not pid_running(shell), "the dead worker's command was not reclaimed"
    assert list(root.glob("default/*")) == []  # the workspace went with the run
