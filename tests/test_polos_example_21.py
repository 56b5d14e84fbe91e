"""Polos's example 21-local-sandbox, run unchanged on SQLite and PostgreSQL.

``python main.py`` starts the coding agent (provider anthropic, pointed at
the fake Anthropic server) with local sandbox tools and answers its approval
prompts on stdin: every write and command pauses for a person (the local
environment's defaults). The fake model writes hello.js and fibonacci.js and
runs them with node; one command is rejected with feedback, which the model
then reads. The final answer quotes what the programs printed, so it proves
the commands ran in the workspace and their output reached the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from example_agents_kit import anthropic_env, last_output, script, tool_outputs
from polos.testing import FakeAnthropicServer, RecordedRequest, Turn
from polos_examples import run_example

pytestmark = pytest.mark.slow

HELLO = 'console.log("Hello from the local sandbox!");\n'
FIBONACCI = (
    "const fib = [0, 1];\n"
    "while (fib.length < 10) fib.push(fib[fib.length - 1] + fib[fib.length - 2]);\n"
    "console.log(fib.join(' '));\n"
)


def test_21_local_sandbox(examples: Path, tmp_path: Path, database_url: str) -> None:
    workspaces = tmp_path / "workspaces"
    told: dict[str, object] = {}

    def after_rejection(request: RecordedRequest) -> Turn:
        told["rejected"] = last_output(request)
        return Turn.call("exec", {"command": "node hello.js"})

    def summary(request: RecordedRequest) -> Turn:
        outputs = tool_outputs(request)
        hello, fib = outputs[-3], outputs[-1]
        return Turn.reply(
            f"hello.js printed: {hello['stdout'].strip()}\nfibonacci.js printed: "
            f"{fib['stdout'].strip()}"
        )

    with FakeAnthropicServer() as llm:
        script(
            llm,
            Turn.call("write", {"path": "hello.js", "content": HELLO}),
            Turn.call("exec", {"command": "nodejs hello.js"}),
            after_rejection,
            Turn.call("write", {"path": "fibonacci.js", "content": FIBONACCI}),
            Turn.call("exec", {"command": "node fibonacci.js"}),
            summary,
        )
        run = run_example(
            examples,
            "21-local-sandbox",
            tmp_path,
            database_url=database_url,
            stdin="y\nn\nuse node, not nodejs\ny\ny\ny\n",
            env={**anthropic_env(llm), "POLOS_WORKSPACES_DIR": str(workspaces)},
        )
        requests = list(llm.requests)
    lines = run.lines()
    assert "  WRITE APPROVAL REQUIRED" in lines
    assert "    Command:   nodejs hello.js" in lines
    assert "    Command:   node fibonacci.js" in lines
    assert "  -> Rejected with feedback. Resuming..." in lines
    assert "  Agent Completed" in lines
    answer = "hello.js printed: Hello from the local sandbox!\nfibonacci.js printed: 0 1 1 2 3 5 8 13 21 34"
    assert "hello.js printed: Hello from the local sandbox!" in lines  # streamed as it came
    assert f'  "result": {json.dumps(answer)},' in lines  # the fetched execution's result
    rejected = told["rejected"]
    assert isinstance(rejected, dict) and rejected["exit_code"] == -1
    assert rejected["stderr"].endswith("User feedback: use node, not nodejs")
    assert requests[0].body["model"] == "claude-sonnet-4-5"
    # The run is over: its sandbox's workspace was removed with it.
    # (.owners holds Polos's records of which run owns which workspace: emptied too)
    assert [p for p in workspaces.glob("*/*") if not p.parent.name.startswith(".")] == []
    assert not any(workspaces.glob(".owners/*/*"))
