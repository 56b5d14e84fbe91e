"""Polos's sandbox examples (18, 19 and 24) run unchanged, in real Docker containers.

Each example is started as its README says (``python main.py``), with the real
``anthropic`` SDK pointed at the fake model server and ``POLOS_WORKSPACES_DIR``
at a folder of the test's. The examples ask for the image ``node:20-slim``; no
registry is reachable here, so the Docker kit tags its busybox image under that
name when no such image exists (tests/toolkit/docker.py). The scripted model
therefore runs shell commands, not node: what matters is that every command
really ran in the example's container, on the files the tools wrote, and that
its output reached the model.

Every test checks that the example's containers are gone when it exits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from example_agents_kit import UUID, anthropic_env, last_output, script
from polos.testing import FakeAnthropicServer, FakeOpenAIServer, RecordedRequest, Turn
from polos_examples import ExampleRun, run_example
from toolkit.docker import EXAMPLE_IMAGE, docker, ensure_image, require_docker

pytestmark = pytest.mark.slow


@pytest.fixture
def workspaces(tmp_path: Path) -> Iterator[Path]:
    """``POLOS_WORKSPACES_DIR`` of the example; no container mounting it may survive."""
    require_docker()
    ensure_image(EXAMPLE_IMAGE)
    folder = tmp_path / "workspaces"
    folder.mkdir()
    yield folder
    left = containers_under(folder)
    if left:
        docker("rm", "-f", *left, check=False)
    assert not left, f"the example left containers behind: {left}"


def containers_under(folder: Path) -> list[str]:
    """Polos sandbox containers whose workspace is in ``folder``."""
    listed = docker("ps", "-a", "--filter", "label=polos.managed=true", "--format", "{{.Names}}")
    names = listed.stdout.split()
    if not names:
        return []
    template = "{{.Name}}\t{{range .Mounts}}{{.Source}} {{end}}"
    inspected = docker("inspect", "--format", template, *names, check=False)
    found = []
    for line in inspected.stdout.splitlines():
        name, _, sources = line.partition("\t")
        if any(s.startswith(str(folder)) for s in sources.split()):
            found.append(name.lstrip("/"))
    return found


def _run(
    examples: Path,
    name: str,
    tmp_path: Path,
    database_url: str,
    anthropic_llm: FakeAnthropicServer,
    openai_llm: FakeOpenAIServer,
    workspaces: Path,
    *,
    stdin: str = "",
) -> ExampleRun:
    env = {
        **anthropic_env(anthropic_llm),
        "OPENAI_BASE_URL": openai_llm.base_url,
        "POLOS_WORKSPACES_DIR": str(workspaces),
    }
    return run_example(
        examples, name, tmp_path, database_url=database_url, stdin=stdin, env=env, timeout=120
    )


FIB_SH = 'a=0; b=1; for i in 1 2 3 4 5 6 7 8 9 10; do printf "%s " $a; t=$((a + b)); a=$b; b=$t; done; echo\n'
FIBS = "0 1 1 2 3 5 8 13 21 34"


def test_18_sandbox_tools(
    examples: Path,
    tmp_path: Path,
    sqlite_url: str,
    anthropic_llm: FakeAnthropicServer,
    openai_llm: FakeOpenAIServer,
    workspaces: Path,
) -> None:
    def summary(request: RecordedRequest) -> Turn:
        ran = last_output(request)
        return Turn.reply(f"Both programs ran. Output: {ran['stdout'].strip()}")

    hello = 'console.log("Hello from the sandbox!");\n'
    script(
        anthropic_llm,
        Turn.call("write", {"path": "hello.js", "content": hello}),
        Turn.call("exec", {"command": "cat hello.js && uname -s"}),
        Turn.call("write", {"path": "fibonacci.sh", "content": FIB_SH}),
        Turn.call("edit", {"path": "fibonacci.sh", "old_text": "printf", "new_text": "printf"}),
        Turn.call("glob", {"pattern": "*.sh"}),
        Turn.call("grep", {"pattern": "Hello from"}),
        Turn.call("read", {"path": "hello.js"}),
        Turn.call("exec", {"command": "sh fibonacci.sh"}),
        summary,
    )
    run = _run(
        examples, "18-sandbox-tools", tmp_path, sqlite_url, anthropic_llm, openai_llm, workspaces
    )
    assert re.search(rf"^Execution ID: {UUID}$", run.stdout, re.M), run.stdout
    for tool in ("write", "exec", "edit", "glob", "grep", "read"):
        assert f"  [Using {tool}...]" in run.lines(), run.stdout
    run.assert_lines("  Agent Completed", f"Both programs ran. Output: {FIBS}")

    requests = anthropic_llm.requests
    assert [t["name"] for t in requests[0].body["tools"]] == [
        "exec",
        "read",
        "write",
        "edit",
        "glob",
        "grep",
    ]
    outputs = [last_output(r) for r in requests[1:]]
    cat = outputs[1]
    assert cat["exit_code"] == 0 and cat["stdout"] == hello + "Linux\n"
    assert "/workspace/fibonacci.sh" in json.dumps(outputs[4])
    assert "/workspace/hello.js" in json.dumps(outputs[5])
    assert "Hello from the sandbox!" in json.dumps(outputs[6])


def test_19_exec_security(
    examples: Path,
    tmp_path: Path,
    sqlite_url: str,
    anthropic_llm: FakeAnthropicServer,
    openai_llm: FakeOpenAIServer,
    workspaces: Path,
) -> None:
    greet = 'console.log("Hello, " + process.argv[2] + "!");\n'

    def ask_colour(request: RecordedRequest) -> Turn:
        rejected = last_output(request)
        assert rejected["exit_code"] == -1
        assert "User feedback: Use ANSI escape codes instead of chalk" in rejected["stderr"]
        return Turn.call(
            "ask_user",
            {
                "question": "Which colour should the greeting be?",
                "title": "Pick a colour",
                "fields": [
                    {
                        "key": "colour",
                        "type": "select",
                        "label": "Colour",
                        "options": [
                            {"label": "Green", "value": "32"},
                            {"label": "Cyan", "value": "36"},
                        ],
                    }
                ],
            },
        )

    def colour_it(request: RecordedRequest) -> Turn:
        answer = last_output(request)
        assert answer == {"colour": "36"}
        code = answer["colour"]
        return Turn.call("exec", {"command": f"printf '\\033[{code}mHello, Ada!\\033[0m\\n'"})

    def done(request: RecordedRequest) -> Turn:
        ran = last_output(request)
        return Turn.reply(f"Greeting printed in colour: {ran['stdout'].strip()}")

    script(
        anthropic_llm,
        Turn.call("write", {"path": "greet.js", "content": greet}),
        Turn.call("exec", {"command": "cat greet.js"}),  # on the allowlist: no question
        Turn.call("exec", {"command": "npm install chalk"}),  # not on it: rejected below
        ask_colour,
        colour_it,  # not on the allowlist either: approved below
        done,
    )
    stdin = "n\nUse ANSI escape codes instead of chalk\n2\ny\n"
    run = _run(
        examples,
        "19-exec-security",
        tmp_path,
        sqlite_url,
        anthropic_llm,
        openai_llm,
        workspaces,
        stdin=stdin,
    )
    out = run.stdout
    assert out.count("COMMAND APPROVAL REQUIRED") == 2, out
    run.assert_lines(
        "  Exec Security Demo",
        "    Command:     npm install chalk",
        "    Directory:   /workspace",
        "    Environment: docker",
        "  Pick a colour",
        "  Which colour should the greeting be?",
        "    1. Green",
        "    2. Cyan",
        "  Agent Completed",
        '  "result": "Greeting printed in colour: Hello, Ada!",',
    )
    assert "  -> Rejected with feedback. Resuming workflow..." in out
    assert "  -> Approved. Resuming workflow..." in out
    assert "    Command:     printf '\\033[36mHello, Ada!\\033[0m\\n'" in out
    outputs = [last_output(r) for r in anthropic_llm.requests[2:]]
    assert outputs[0]["exit_code"] == 0 and outputs[0]["stdout"] == greet  # cat ran at once
    assert "[Using ask_user...]" in out


MATH_UTILS = "exports.add = (a, b) => a + b;\nexports.multiply = (a, b) => a * b;\n"


def test_24_session_sandbox(
    examples: Path,
    tmp_path: Path,
    sqlite_url: str,
    anthropic_llm: FakeAnthropicServer,
    openai_llm: FakeOpenAIServer,
    workspaces: Path,
) -> None:
    def extend(request: RecordedRequest) -> Turn:
        listing = last_output(request)["stdout"].split()
        # the file of run 1 and the mark it left outside the workspace are both here
        assert listing == ["math-utils.js", "from-run-1"], listing
        return Turn.call(
            "edit",
            {
                "path": "math-utils.js",
                "old_text": "exports.multiply",
                "new_text": "exports.subtract = (a, b) => a - b;\nexports.multiply",
            },
        )

    def summary(request: RecordedRequest) -> Turn:
        return Turn.reply(f"math-utils.js now has: {last_output(request)['stdout'].strip()}")

    script(
        anthropic_llm,
        # run 1
        Turn.call("write", {"path": "math-utils.js", "content": MATH_UTILS}),
        Turn.call(
            "exec", {"command": "echo from-run-1 > /tmp/mark && grep -c exports math-utils.js"}
        ),
        Turn.reply("Created math-utils.js with add and multiply."),
        # run 2, same session
        Turn.call("exec", {"command": "ls /workspace && cat /tmp/mark"}),
        extend,
        Turn.call("exec", {"command": "grep -o 'exports.[a-z]*' math-utils.js | tr '\\n' ' '"}),
        summary,
    )
    run = _run(
        examples, "24-session-sandbox", tmp_path, sqlite_url, anthropic_llm, openai_llm, workspaces
    )
    sessions = re.findall(rf"^  Session ID: ({UUID})$", run.stdout, re.M)
    assert len(sessions) == 2 and sessions[0] == sessions[1], run.stdout
    run.assert_lines(
        "  Run 1: Create math-utils and test it",
        "Created math-utils.js with add and multiply.",
        "  Run 2: Extend math-utils (same sandbox)",
        "math-utils.js now has: exports.add exports.subtract exports.multiply",
    )
    # the session's workspace stays for its next turn; its container went with the worker
    [workspace] = [
        p for p in workspaces.glob("*/*") if p.is_dir() and not p.parent.name.startswith(".")
    ]
    assert workspace.name == sessions[0]
    assert "exports.subtract" in (workspace / "math-utils.js").read_text()
