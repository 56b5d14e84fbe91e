"""The Docker execution environment against a real Docker daemon.

The image is the kit's busybox image (tests/toolkit/docker.py): no registry is
needed. Every container a test makes carries a ``polos.test`` label unique to
the test, and the test fails if one is still there when it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from polos import Agent, Polos, get_all_workflows
from polos.execution import sandbox_tools
from polos.execution.docker import (
    DockerEnvironment,
    PathOutsideWorkspaceError,
    list_sandbox_containers,
    remove_containers,
)
from polos.execution.docker_cli import (
    CLI_ENV,
    ContainerGoneError,
    DockerError,
    DockerImageError,
    DockerUnavailableError,
)
from polos.execution.types import (
    DockerEnvironmentConfig,
    ExecOptions,
    GlobOptions,
    GrepOptions,
    SandboxScope,
    SandboxToolsConfig,
)
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn
from toolkit.docker import TEST_IMAGE, docker, managed_containers, require_docker
from toolkit.waiting import until


@pytest.fixture
def label() -> Iterator[dict[str, str]]:
    """A label for this test's containers; none may outlive the test."""
    require_docker()
    mark = {"polos.test": uuid.uuid4().hex[:12]}
    yield mark
    left = managed_containers(f"polos.test={mark['polos.test']}")
    if left:
        docker("rm", "-f", *left, check=False)
    assert not left, f"containers left behind: {left}"


def make_env(workspace: Path, **config: object) -> DockerEnvironment:
    settings: dict[str, object] = {"image": TEST_IMAGE, "workspace_dir": str(workspace)}
    settings.update(config)
    return DockerEnvironment(DockerEnvironmentConfig.model_validate(settings))


async def test_commands_and_files_share_the_workspace(
    tmp_path: Path, label: dict[str, str]
) -> None:
    env = make_env(tmp_path, env={"GREETING": "hi"})
    await env.initialize(label)
    try:
        done = await env.exec(
            'echo "$GREETING $EXTRA"; pwd; echo oops >&2; exit 3',
            ExecOptions(env={"EXTRA": "there"}),
        )
        assert (done.exit_code, done.stdout, done.stderr) == (3, "hi there\n/workspace\n", "oops\n")
        assert not done.truncated and done.duration_ms >= 0

        # written by a tool, seen by a command, and the other way round
        await env.write_file("src/app.js", "const a = 1;\nconsole.log('hello');\n")
        assert (tmp_path / "src" / "app.js").read_text().startswith("const a")
        made = await env.exec(
            "mkdir -p out && printf 'made inside\\n' > out/note.txt && cat src/app.js"
        )
        assert "console.log('hello');" in made.stdout
        assert await env.read_file("out/note.txt") == "made inside\n"
        assert await env.read_file("/workspace/out/note.txt") == "made inside\n"
        assert await env.file_exists("out/note.txt") and not await env.file_exists("nope.txt")

        in_sub = await env.exec("pwd && cat", ExecOptions(cwd="src", stdin="from stdin"))
        assert in_sub.stdout == "/workspace/src\nfrom stdin"

        await env.write_file("src/lib/util.js", "// hello util\n")
        await env.write_file("README.md", "hello readme\n")
        assert await env.glob("*.js") == ["/workspace/src/app.js", "/workspace/src/lib/util.js"]
        assert await env.glob("src/lib/*.js") == ["/workspace/src/lib/util.js"]
        assert await env.glob("*", GlobOptions(ignore=["src"])) == [
            "/workspace/README.md",
            "/workspace/out/note.txt",
        ]
        found = await env.grep("hello", GrepOptions(include=["*.js"]))
        assert sorted((m.path, m.line, m.text) for m in found) == [
            ("/workspace/src/app.js", 2, "console.log('hello');"),
            ("/workspace/src/lib/util.js", 1, "// hello util"),
        ]
        [near] = await env.grep(
            "console", GrepOptions(cwd="src", context_lines=1, include=["app.js"])
        )
        assert (near.line, near.context) == (2, "const a = 1;")
        assert len(await env.grep("hello", GrepOptions(max_results=1))) == 1

        (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
        with pytest.raises(ValueError, match="binary"):
            await env.read_file("blob.bin")
        info = env.get_info()
        assert info.type == "docker" and info.cwd == "/workspace" and info.sandbox_id
    finally:
        await env.destroy()
    assert not managed_containers(f"polos.test={label['polos.test']}")
    assert (tmp_path / "out" / "note.txt").exists()  # the workspace outlives the container


async def test_a_command_that_hangs_is_killed_inside_the_container(
    tmp_path: Path, label: dict[str, str]
) -> None:
    env = make_env(tmp_path)
    await env.initialize(label)
    try:
        started = time.monotonic()
        done = await env.exec("echo before; sleep 47; echo after", ExecOptions(timeout=1))
        assert time.monotonic() - started < 6
        assert done.exit_code == 137 and done.stdout == "before\n"
        assert "timeout of 1 s exceeded" in done.stderr
        # killing the local docker client is not enough: the sleep itself is gone
        processes = await env.exec("ps -o pid,stat,args")
        assert "sleep 47" not in processes.stdout, processes.stdout
        # and reaped: no zombie left under the container's init
        assert "[sleep]" not in processes.stdout, processes.stdout
        # a command that never reads the stdin it is given times out all the same
        started = time.monotonic()
        unread = await env.exec("sleep 48", ExecOptions(timeout=1, stdin="x" * 4_000_000))
        assert unread.exit_code == 137 and time.monotonic() - started < 8
        # and the sandbox still works
        assert (await env.exec("echo alive")).stdout == "alive\n"
        with pytest.raises(ValueError, match="positive"):
            await env.exec("true", ExecOptions(timeout=-1))
    finally:
        await env.destroy()


async def test_huge_output_is_truncated_to_a_head_and_a_tail(
    tmp_path: Path, label: dict[str, str]
) -> None:
    env = DockerEnvironment(
        DockerEnvironmentConfig(image=TEST_IMAGE, workspace_dir=str(tmp_path)),
        max_output_chars=1000,
    )
    await env.initialize(label)
    try:
        done = await env.exec("echo FIRST; yes filler | head -n 1000000; echo LAST")
        assert done.exit_code == 0 and done.truncated
        assert done.stdout.startswith("FIRST\n") and done.stdout.endswith("LAST\n")
        assert "--- truncated " in done.stdout and len(done.stdout) < 1100
        small = await env.exec("echo short")
        assert not small.truncated
    finally:
        await env.destroy()


async def test_file_paths_cannot_leave_the_workspace(tmp_path: Path, label: dict[str, str]) -> None:
    workspace = tmp_path / "ws"
    (tmp_path / "secret.txt").write_text("host secret")
    env = make_env(workspace)
    await env.initialize(label)
    try:
        for bad in ("../secret.txt", "/etc/passwd", "/workspace/../etc/passwd", "/workspace2/x"):
            with pytest.raises(PathOutsideWorkspaceError, match="outside the sandbox workspace"):
                await env.read_file(bad)
        with pytest.raises(PathOutsideWorkspaceError):
            await env.write_file("../escaped.txt", "x")
        assert not (tmp_path / "escaped.txt").exists()
        # a link made inside the container must not let host-side file access out
        await env.exec("ln -s / rootfs && ln -s .. up")
        with pytest.raises(PathOutsideWorkspaceError, match="symbolic link"):
            await env.read_file("rootfs/etc/passwd")
        with pytest.raises(PathOutsideWorkspaceError, match="symbolic link"):
            await env.write_file("up/secret.txt", "overwritten")
        assert (tmp_path / "secret.txt").read_text() == "host secret"
    finally:
        await env.destroy()


async def test_container_options_and_setup_command(tmp_path: Path, label: dict[str, str]) -> None:
    env = make_env(
        tmp_path,
        memory="64m",
        env={"MODE": "test"},
        setup_command="echo ready-$MODE > setup.txt",
        container_workdir="/work",
    )
    await env.initialize(label)
    try:
        assert (tmp_path / "setup.txt").read_text() == "ready-test\n"
        assert env.get_cwd() == "/work" and (await env.exec("pwd")).stdout == "/work\n"
        inspected = docker(
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.NetworkMode}}",
            env.get_container_name(),
        )
        assert inspected.stdout.split() == [str(64 * 1024 * 1024), "none"]
        init = docker("inspect", "--format", "{{json .HostConfig.Init}}", env.get_container_name())
        assert init.stdout.strip() == "true"
        assert await env.read_file("/work/setup.txt") == "ready-test\n"
    finally:
        await env.destroy()

    broken = make_env(tmp_path, setup_command="echo no luck >&2; exit 4")
    with pytest.raises(DockerError, match=r"setup_command .* exit code 4: no luck"):
        await broken.initialize(label)
    # the failed sandbox's container is removed by the label fixture's check


async def test_missing_image_says_how_to_get_one(tmp_path: Path, label: dict[str, str]) -> None:
    env = make_env(tmp_path, image=f"polos-test-absent-{uuid.uuid4().hex[:8]}:none")
    with pytest.raises(DockerImageError, match=r"docker pull .*docker import"):
        await env.initialize(label)
    with pytest.raises(RuntimeError, match="call initialize"):
        await env.exec("true")


async def test_bad_options_leave_no_container(tmp_path: Path, label: dict[str, str]) -> None:
    env = make_env(tmp_path, network="no-such-network")
    with pytest.raises(DockerError, match="no-such-network"):
        await env.initialize(label)


async def test_missing_cli_and_stopped_daemon(
    tmp_path: Path, label: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CLI_ENV, str(tmp_path / "no-docker-here"))
    with pytest.raises(DockerUnavailableError, match="not found on PATH: install Docker"):
        await make_env(tmp_path).initialize(label)
    monkeypatch.delenv(CLI_ENV)
    # the real CLI, pointed at a daemon socket nobody listens on
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(DockerUnavailableError, match="daemon is not running"):
        await make_env(tmp_path).initialize(label)


async def test_container_removed_behind_our_back(tmp_path: Path, label: dict[str, str]) -> None:
    env = make_env(tmp_path)
    await env.initialize(label)
    docker("rm", "-f", env.get_container_name())
    with pytest.raises(ContainerGoneError, match="is gone"):
        await env.exec("true")
    await env.destroy()  # already gone: fine


async def test_a_restarted_worker_adopts_its_sandbox_container(
    tmp_path: Path, label: dict[str, str]
) -> None:
    labels = {**label, "polos.sandbox-id": f"sb-{uuid.uuid4().hex[:8]}", "polos.worker-id": "w1"}
    first = make_env(tmp_path)
    await first.initialize(labels)
    await first.exec("echo kept > /tmp/state")  # outside the workspace: only the container has it

    # the worker "crashed": a new environment object for the same sandbox id
    second = make_env(tmp_path)
    await second.initialize({**labels, "polos.worker-id": "w2"})
    assert second.get_container_name() == first.get_container_name()
    assert (await second.exec("cat /tmp/state")).stdout == "kept\n"
    [found] = await list_sandbox_containers({"polos.sandbox-id": labels["polos.sandbox-id"]})
    assert found.running and found.labels["polos.worker-id"] == "w1"
    assert found.created_at is not None

    # a stopped leftover is replaced, not reused
    docker("stop", "-t", "0", found.name)
    third = make_env(tmp_path)
    await third.initialize(labels)
    assert third.get_container_name() != found.name
    assert not await list_sandbox_containers({"polos.sandbox-id": "nothing-like-this"})
    mine = await list_sandbox_containers(label)
    assert [c.name for c in mine] == [third.get_container_name()]
    await remove_containers([c.name for c in mine])
    assert not await list_sandbox_containers(label)


async def test_concurrent_commands_in_one_sandbox(tmp_path: Path, label: dict[str, str]) -> None:
    env = make_env(tmp_path)
    await env.initialize(label)
    try:
        results = await asyncio.gather(*(env.exec(f"echo {i}") for i in range(6)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
    finally:
        await env.destroy()
    assert os.path.isdir(tmp_path)


# --- an agent driving the Docker sandbox through sandbox_tools ------------------------------


def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    """The tool outputs a Chat Completions request carried back to the model."""
    found = []
    for message in request.body.get("messages", []):
        if isinstance(message, dict) and message.get("role") == "tool":
            content = str(message.get("content"))
            try:
                found.append(json.loads(content))
            except ValueError:
                found.append({"text": content})
    return found


@asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[Polos]:
    """Polos serving what is defined now (the tools just built included)."""
    served = [wf for wf in get_all_workflows().values() if wf.schedule is None]
    polos = Polos(database_url=database_url, workflows=served, poll_interval=0.05)
    await polos.start()
    try:
        yield polos
    finally:
        await polos.stop()


def docker_coder(llm: FakeOpenAIServer, scope: SandboxScope, image: str = TEST_IMAGE) -> Agent:
    tools = sandbox_tools(
        SandboxToolsConfig(env="docker", scope=scope, docker=DockerEnvironmentConfig(image=image))
    )
    return Agent(
        id=f"docker_coder_{scope}",
        provider="openai",
        model="gpt-test",
        provider_base_url=llm.base_url,
        tools=tools,
    )


def sandboxes_mounting(folder: Path) -> list[str]:
    names = managed_containers()
    if not names:
        return []
    template = "{{.Name}}\t{{range .Mounts}}{{.Source}} {{end}}"
    inspected = docker("inspect", "--format", template, *names, check=False)
    return [
        line.split("\t")[0].lstrip("/")
        for line in inspected.stdout.splitlines()
        if str(folder) in line.partition("\t")[2]
    ]


async def no_sandbox_left(folder: Path) -> None:
    await until(
        lambda: asyncio.to_thread(lambda: not sandboxes_mounting(folder)),
        15,
        "the sandbox's container to be removed",
        poll=0.2,
    )


@pytest.fixture
def workspaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``POLOS_WORKSPACES_DIR`` for the test; no container over it may outlive the test."""
    require_docker()
    folder = tmp_path / "workspaces"
    monkeypatch.setenv("POLOS_WORKSPACES_DIR", str(folder))
    yield folder
    left = sandboxes_mounting(folder)
    if left:
        docker("rm", "-f", *left, check=False)
    assert not left, f"containers left behind: {left}"


async def test_an_agent_codes_in_a_docker_sandbox(database_url: str, workspaces: Path) -> None:
    with FakeOpenAIServer() as llm:
        agent = docker_coder(llm, "execution")

        def report(request: RecordedRequest) -> Turn:
            ran = tool_results(request)[-1]
            return Turn.reply(f"It printed: {ran['stdout'].strip()}")

        llm.add_turns(
            Turn.call("write", {"path": "app/greet.sh", "content": 'echo "hello $1"\n'}),
            Turn.call("edit", {"path": "app/greet.sh", "old_text": "hello", "new_text": "hi"}),
            Turn.call("glob", {"pattern": "*.sh"}),
            Turn.call("grep", {"pattern": "hi", "include": ["*.sh"]}),
            Turn.call("read", {"path": "../../etc/passwd"}),
            Turn.call("exec", {"command": "sleep 30", "timeout": 1}),
            Turn.call("read", {"path": "app/greet.sh"}),
            # PID 1 of the place the command ran is the sandbox container's main process
            Turn.call("exec", {"command": "sh app/greet.sh docker; tr '\\0' ' ' </proc/1/cmdline"}),
            report,
        )
        async with serving(database_url) as polos:
            result = await agent.run(polos, "Write a greeting script and run it", timeout=60)
            printed = str(result.result)
            assert printed.startswith("It printed: hi docker\n"), printed
            assert printed.endswith("sleep infinity"), printed  # under the container's init
            outputs = [tool_results(r)[-1] for r in llm.requests[1:]]
            assert outputs[:2] == [{"success": True, "path": "app/greet.sh"}] * 2
            assert outputs[2] == {"files": ["/workspace/app/greet.sh"]}
            assert [(m["path"], m["line"], m["text"]) for m in outputs[3]["matches"]] == [
                ("/workspace/app/greet.sh", 1, 'echo "hi $1"')
            ]
            assert "outside the sandbox workspace" in outputs[4]["text"]
            assert outputs[5]["exit_code"] == 137 and "timeout of 1 s" in outputs[5]["stderr"]
            assert outputs[6]["content"] == 'echo "hi $1"\n'
            assert [t.name for t in result.tool_calls][-1] == "exec"
            # the run is over: its container goes, and nothing else of it stays
            await no_sandbox_left(workspaces)


async def test_a_missing_image_reaches_the_model_and_the_run_goes_on(
    sqlite_url: str, workspaces: Path
) -> None:
    with FakeOpenAIServer() as llm:
        agent = docker_coder(llm, "execution", image="polos-test-absent:none")

        def explain(request: RecordedRequest) -> Turn:
            return Turn.reply(tool_results(request)[-1]["text"])

        llm.add_turns(Turn.call("exec", {"command": "echo hi"}), explain)
        async with serving(sqlite_url) as polos:
            result = await agent.run(polos, "Say hi", timeout=60)
    assert "DockerImageError" in result.text, result.text
    assert "'polos-test-absent:none' is not available locally" in result.text
    assert "docker pull polos-test-absent:none" in result.text
    assert "docker import - polos-test-absent:none" in result.text
    assert not sandboxes_mounting(workspaces)


async def test_a_session_sandbox_keeps_its_container_across_turns(
    sqlite_url: str, workspaces: Path
) -> None:
    with FakeOpenAIServer() as llm:
        agent = docker_coder(llm, "session")

        def said(request: RecordedRequest) -> Turn:
            return Turn.reply(tool_results(request)[-1]["stdout"].strip())

        llm.add_turns(
            # turn 1 leaves a file in the workspace and one only the container has
            Turn.call("exec", {"command": "echo one > notes.txt; echo $HOSTNAME > /tmp/box"}),
            Turn.reply("noted"),
            # turn 2 finds both
            Turn.call("exec", {"command": "cat notes.txt /tmp/box"}),
            said,
        )
        async with serving(sqlite_url) as polos:
            first = await agent.run(polos, "Take a note", session_id="s-1", timeout=60)
            assert first.result == "noted"
            [container] = sandboxes_mounting(workspaces)
            second = await agent.run(polos, "Read it back", session_id="s-1", timeout=60)
            note, box = str(second.result).splitlines()
            assert note == "one"
            assert sandboxes_mounting(workspaces) == [container]
            assert (
                box
                == docker("inspect", "--format", "{{.Config.Hostname}}", container).stdout.strip()
            )
        # the worker stopped: session sandboxes are torn down with it
        await no_sandbox_left(workspaces)


async def test_a_host_without_an_init_binary_still_gets_a_sandbox(
    tmp_path: Path, label: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The docker CLI behind a shim that answers `run --init` as a daemon without
    # docker-init does; everything else goes to the real CLI.
    shim = tmp_path / "docker-without-init"
    shim.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do if [ "$a" = --init ]; then\n'
        '  echo \'docker: Error response from daemon: exec: "docker-init": executable file '
        "not found in $PATH.' >&2; exit 125\n"
        "fi; done\n"
        'exec docker "$@"\n'
    )
    shim.chmod(0o755)
    monkeypatch.setenv(CLI_ENV, str(shim))
    env = make_env(tmp_path / "ws")
    await env.initialize(label)
    try:
        assert (await env.exec("echo up")).stdout == "up\n"
        init = docker("inspect", "--format", "{{json .HostConfig.Init}}", env.get_container_name())
        assert init.stdout.strip() in ("null", "false")
    finally:
        await env.destroy()
