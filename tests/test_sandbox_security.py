"""Exec security and file approvals of the sandbox tools.

Commands on the allowlist run; anything else pauses the tool's run at a
``approve_exec_<id>`` suspend until a person answers (approve once, approve
always for the session, or reject with feedback the model reads). Reads
outside the workspace and, in the local environment, every write and edit
pause the same way. Resumes are addressed as Polos users address them: with
the agent run's ids. Store-facing parts run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from example_agents_kit import last_output
from polos import ExecToolConfig, Polos, SandboxToolsConfig, SuspendInfo
from polos.execution import assert_safe_path, evaluate_allowlist
from polos.execution.security import match_glob
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn
from sandbox_kit import (
    AGENT_ID,
    make_agent,
    serving,
    set_workspaces,
    then,
    workspaces,
)


def test_allowlist_matches_whole_commands_and_every_chained_part() -> None:
    allow = ["ls *", "ls", "echo *", "cat *"]
    assert evaluate_allowlist("ls", allow) and evaluate_allowlist("  ls -la  ", allow)
    assert evaluate_allowlist("echo hi | cat -n", allow)
    assert not evaluate_allowlist("rm -rf /", allow)
    assert not evaluate_allowlist("ls; rm -rf /", allow)
    assert not evaluate_allowlist("ls && rm x", allow)
    assert not evaluate_allowlist("echo $(rm x)", allow)
    assert not evaluate_allowlist("echo `rm x`", allow)
    assert not evaluate_allowlist("", allow) and not evaluate_allowlist("ls", [])
    assert evaluate_allowlist("anything; at all", ["*"])
    assert match_glob("ls [a]", "ls [a]") and not match_glob("ls a", "ls [a]")
    assert_safe_path("a/b.txt", "/work")
    with pytest.raises(ValueError, match="outside the workspace /work"):
        assert_safe_path("../etc/passwd", "/work")


async def next_suspend(polos: Polos, answered: set[str], timeout: float = 20) -> SuspendInfo:
    """The next suspend not answered yet (and remember it as answered)."""
    for _ in range(int(timeout / 0.02)):
        for pending in await polos.list_suspended():
            if pending.step_key not in answered:
                answered.add(pending.step_key)
                return pending
        await asyncio.sleep(0.02)
    raise AssertionError(f"no new approval was requested within {timeout}s")


async def answer(polos: Polos, run_id: str, pending: SuspendInfo, data: dict[str, Any]) -> None:
    await polos.resume(AGENT_ID, run_id, pending.step_key, data)


def form_context(pending: SuspendInfo) -> dict[str, Any]:
    assert isinstance(pending.data, dict)
    context = pending.data["_form"]["context"]
    assert isinstance(context, dict)
    return context


async def test_allowlist_runs_listed_commands_and_pauses_the_rest(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = set_workspaces(monkeypatch, tmp_path / "workspaces")
    config = SandboxToolsConfig(
        env="local",
        exec=ExecToolConfig(security="allowlist", allowlist=["echo *", "ls"]),
        file_approval="none",
    )
    with FakeOpenAIServer() as llm:
        llm.add_turns(
            Turn.call("exec", {"command": "echo listed"}),
            Turn.call("exec", {"command": "touch made.txt"}),
            Turn.call("exec", {"command": "rm made.txt"}),
            Turn.call("exec", {"command": "ls"}),
            lambda r: Turn.reply(last_output(r)["stdout"].strip()),
        )
        agent, tools = make_agent(llm, config)
        async with serving(database_url, agent, tools) as polos:
            handle = await agent.invoke(polos, "work")
            answered: set[str] = set()
            touch = await next_suspend(polos, answered)
            assert touch.step_key.startswith("approve_exec_") and touch.workflow_id == "exec"
            assert isinstance(touch.data, dict) and touch.data["_source"] == "exec_security"
            [workspace] = workspaces(root)
            assert form_context(touch) == {
                "command": "touch made.txt",
                "cwd": str(workspace),
                "environment": "local",
            }
            assert not (workspace / "made.txt").exists()  # paused before running
            await answer(polos, handle.id, touch, {"approved": True})
            remove = await next_suspend(polos, answered)
            assert form_context(remove)["command"] == "rm made.txt"
            assert (workspace / "made.txt").exists()
            await answer(polos, handle.id, remove, {"approved": False, "feedback": "keep the file"})
            result = await handle.result(polos, timeout=30)
        listed, touched, removed, _ls = [last_output(r) for r in llm.requests[1:]]
    assert listed["stdout"] == "listed\n" and touched["exit_code"] == 0
    assert removed["exit_code"] == -1
    assert (
        removed["stderr"] == "Command rejected by user: rm made.txt\nUser feedback: keep the file"
    )
    assert result.text == "made.txt"  # the rejected rm never ran
    assert len(answered) == 2  # `echo` and `ls` never asked


async def test_always_allow_holds_for_the_session(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_workspaces(monkeypatch, tmp_path / "workspaces")
    # env="local" asks before every command unless told otherwise.
    config = SandboxToolsConfig(env="local", scope="session", file_approval="none")
    with FakeOpenAIServer() as llm:
        llm.add_turns(
            Turn.call("exec", {"command": "echo trusted"}),
            Turn.call("exec", {"command": "echo trusted"}),
            Turn.reply("first done"),
            Turn.call("exec", {"command": "echo trusted"}),
            Turn.call("exec", {"command": "echo other"}),
            lambda r: Turn.reply(last_output(r)["stdout"].strip()),
            Turn.call("exec", {"command": "echo trusted"}),
            Turn.reply("third done"),
        )
        agent, tools = make_agent(llm, config)
        async with serving(database_url, agent, tools) as polos:
            answered: set[str] = set()
            first = await agent.invoke(polos, "one", session_id="s-a")
            asked = await next_suspend(polos, answered)
            assert form_context(asked)["command"] == "echo trusted"
            await answer(polos, first.id, asked, {"approved": True, "allow_always": True})
            results = [await first.result(polos, timeout=30)]

            # Same session, later run: the trusted command runs; another one asks.
            second = await agent.invoke(polos, "two", session_id="s-a")
            other = await next_suspend(polos, answered)
            assert form_context(other)["command"] == "echo other"
            await answer(polos, second.id, other, {"approved": True})
            results.append(await second.result(polos, timeout=30))

            # Another session has not allowed anything.
            third = await agent.invoke(polos, "three", session_id="s-b")
            again = await next_suspend(polos, answered)
            assert form_context(again)["command"] == "echo trusted"
            await answer(polos, third.id, again, {"approved": True})
            results.append(await third.result(polos, timeout=30))
    assert [r.text for r in results] == ["first done", "other", "third done"]
    assert len(answered) == 3  # the second and third `echo trusted` of session s-a never asked
    ran = [[json.loads(c.result)["stdout"] for c in r.tool_calls] for r in results]
    assert ran == [["trusted\n", "trusted\n"], ["trusted\n", "other\n"], ["trusted\n"]]


async def test_file_approvals_and_reads_outside_the_workspace(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = set_workspaces(monkeypatch, tmp_path / "workspaces")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside text")
    seen: dict[str, Any] = {}

    def look(request: RecordedRequest) -> None:
        [workspace] = workspaces(root)
        seen["after edit"] = (workspace / "plan.txt").read_text()

    # env="local": write and edit ask every time (file_approval defaults to "always").
    config = SandboxToolsConfig(env="local", exec=ExecToolConfig(security="allow-always"))
    with FakeOpenAIServer() as llm:
        llm.add_turns(
            Turn.call("write", {"path": "plan.txt", "content": "step one"}),
            Turn.call("edit", {"path": "plan.txt", "old_text": "one", "new_text": "two"}),
            then(look, Turn.call("read", {"path": "plan.txt"})),
            Turn.call("read", {"path": str(outside / "secret.txt")}),
            Turn.call("grep", {"pattern": "text", "cwd": str(outside)}),
            Turn.reply("done"),
        )
        agent, tools = make_agent(llm, config)
        async with serving(database_url, agent, tools) as polos:
            handle = await agent.invoke(polos, "plan")
            answered: set[str] = set()
            write = await next_suspend(polos, answered)
            assert write.step_key.startswith("approve_write_")
            assert isinstance(write.data, dict) and write.data["_source"] == "tool_approval"
            assert form_context(write) == {
                "tool": "write",
                "input": {"path": "plan.txt", "content": "step one"},
            }
            await answer(polos, handle.id, write, {"approved": True})
            edit = await next_suspend(polos, answered)
            assert edit.step_key.startswith("approve_edit_")
            await answer(polos, handle.id, edit, {"approved": False, "feedback": "not yet"})
            read = await next_suspend(polos, answered)  # the inside read never asks
            assert read.step_key.startswith("approve_read_")
            assert isinstance(read.data, dict) and read.data["_source"] == "path_approval"
            assert form_context(read)["path"] == str(outside / "secret.txt")
            await answer(polos, handle.id, read, {"approved": True})
            grep = await next_suspend(polos, answered)
            assert grep.step_key.startswith("approve_grep_")
            await answer(polos, handle.id, grep, {"approved": False, "feedback": "stay inside"})
            result = await handle.result(polos, timeout=30)
        wrote, edited, inside, secret, searched = [last_output(r) for r in llm.requests[1:]]
    assert result.text == "done"
    assert wrote == {"success": True, "path": "plan.txt"}
    assert 'Tool "edit" was rejected by the user. Feedback: not yet' in edited
    assert seen["after edit"] == "step one" and inside["content"] == "step one"
    assert secret["content"] == "outside text"
    assert "was rejected by the user. Feedback: stay inside" in searched
