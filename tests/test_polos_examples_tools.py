"""Polos's examples 20 (web-search-agent) and 23 (slack-channel) run unchanged, on SQLite
and PostgreSQL, against local fakes: the model (the real ``anthropic`` SDK pointed at
``FakeAnthropicServer``), Tavily (``POLOS_TAVILY_BASE_URL``) and Slack
(``POLOS_SLACK_API_URL``).

20 is interactive: the test answers its prompts on stdin (approve the web search,
pick an option of the agent's ``ask_user`` question) and checks what it prints and
what reached Tavily and the model. 23 serves until Ctrl+C: the test starts our HTTP
server on the same database, starts the example's agent as a user would (a client
invoking ``slack-assistant``), clicks Approve on the message the example's worker
posted to Slack (a signed interaction to ``/slack/v1/interactions``), sees the run
finish with the tool run once, then stops the example with SIGINT.
"""

from __future__ import annotations

import asyncio
import copy
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from example_agents_kit import anthropic_env, tool_outputs
from polos import PolosClient
from polos.testing import (
    FakeAnthropicServer,
    FakeSlackServer,
    FakeTavilyServer,
    RecordedRequest,
    Turn,
)
from polos_examples import copy_example, example_env, run_example
from server_kit import serving, until

pytestmark = pytest.mark.slow

SECRET = "slack-signing-secret-for-tests"


def test_20_web_search_agent(
    examples: Path, tmp_path: Path, database_url: str, anthropic_llm: FakeAnthropicServer
) -> None:
    def final(request: RecordedRequest) -> Turn:
        search, answer = tool_outputs(request)
        return Turn.reply(
            f"Durable agents survive crashes ({answer['depth']}). "
            f"Source: {search['results'][0]['url']}"
        )

    anthropic_llm.add_turns(
        Turn.call("web_search", {"query": "durable execution AI agents", "maxResults": 2}),
        Turn.call(
            "ask_user",
            {
                "question": "How deep should the research go?",
                "title": "Research depth",
                "fields": [
                    {
                        "key": "depth",
                        "type": "select",
                        "label": "Depth",
                        "options": [
                            {"label": "Quick overview", "value": "quick"},
                            {"label": "In depth", "value": "deep"},
                        ],
                    }
                ],
            },
        ),
        final,
    )
    with FakeTavilyServer(api_key="tvly-example") as tavily:
        run = run_example(
            examples,
            "20-web-search-agent",
            tmp_path,
            database_url=database_url,
            stdin="What are durable agents?\ny\n2\n",
            timeout=90,
            env={
                **anthropic_env(anthropic_llm),
                "TAVILY_API_KEY": "tvly-example",
                "POLOS_TAVILY_BASE_URL": tavily.base_url,
            },
        )
    out = run.stdout
    assert '[Searching the web: "durable execution AI agents"]' in out
    assert "TOOL APPROVAL REQUIRED" in out and 'wants to use the "web_search" tool' in out
    assert "-> Approved. Resuming workflow..." in out
    assert "Research depth" in out and "2. In depth" in out
    assert "Research Complete" in out
    answer = "Durable agents survive crashes (deep). Source: https://example.com/durable-execution-ai-agents"
    assert answer in out
    # One search reached Tavily, as the tool was configured (basic depth, with an answer).
    [searched] = tavily.requests
    assert searched.body["query"] == "durable execution AI agents"
    assert searched.body["max_results"] == 2 and searched.body["search_depth"] == "basic"
    assert searched.headers["authorization"] == "Bearer tvly-example"
    assert len(anthropic_llm.requests) == 3
    assert anthropic_llm.requests[0].body["model"] == "claude-sonnet-4-5"


def test_23_slack_channel(
    examples: Path, tmp_path: Path, database_url: str, anthropic_llm: FakeAnthropicServer
) -> None:
    def sent(request: RecordedRequest) -> Turn:
        [result] = tool_outputs(request)
        return Turn.reply(f"Email sent to {result['to']} ({result['subject']}).")

    anthropic_llm.add_turns(
        Turn.call(
            "send_email",
            {"to": "alice@example.com", "subject": "Q1 report", "body": "Numbers attached."},
        ),
        sent,
    )
    folder = copy_example(examples, "23-slack-channel", tmp_path)
    with FakeSlackServer(bot_token="xoxb-example") as slack:
        asyncio.run(_drive_23(folder, database_url, anthropic_llm, slack))


async def _drive_23(
    folder: Path, database_url: str, llm: FakeAnthropicServer, slack: FakeSlackServer
) -> None:
    async with serving(database_url, slack_signing_secret=SECRET) as server:
        env = example_env(
            database_url,
            {
                **anthropic_env(llm),
                "SLACK_BOT_TOKEN": "xoxb-example",
                "POLOS_SLACK_API_URL": slack.api_url,
                "POLOS_APPROVAL_BASE_URL": server.url,
            },
        )
        example = subprocess.Popen(
            [sys.executable, "main.py"],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await _approve_from_slack(server.url, database_url, slack)
        finally:
            example.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.to_thread(example.communicate, timeout=30)
        assert example.returncode == 0, f"{stdout}\n{stderr}"
        assert "Traceback" not in stdout + stderr, f"{stdout}\n{stderr}"
        assert "Default channel: #agent-notifications" in stdout
        assert "Press Ctrl+C to stop" in stdout


async def _approve_from_slack(server_url: str, database_url: str, slack: FakeSlackServer) -> None:
    async with PolosClient(database_url=database_url) as client:

        async def served() -> bool:
            # The example's worker records what it serves when it starts.
            try:
                await client.invoke("slack-assistant", {"input": "Send an email to alice"})
            except Exception:
                return False
            return True

        await until(served, timeout=60)
        [run] = await client.list_executions(workflow_id="slack-assistant")

        async def posted() -> list[Any]:
            return [m for m in slack.in_channel("#agent-notifications") if m.blocks]

        [message] = await until(posted, timeout=60)
        assert message.blocks[0]["text"]["text"] == "Approve tool: send_email"
        labels = [b["text"]["text"] for b in message.buttons()]
        assert labels == ["Approve", "Reject", "View Details"]

        stale = copy.deepcopy(message)
        clicked = await slack.click(server_url, message, "Approve", SECRET, user="ops")
        assert clicked.status_code == 200, clicked.text
        result = await client.wait_for_result(run.id, timeout=60)
        text = result.result if hasattr(result, "result") else result["result"]
        assert text == "Email sent to alice@example.com (Q1 report)."
        assert len(await client.list_executions(workflow_id="send_email")) == 1
        assert message.blocks[-1]["elements"][0]["text"] == "\u2705 Approved by @ops"
        again = await slack.click(server_url, stale, "Reject", SECRET)  # a second click
        assert again.status_code == 409, again.text
        assert len(await client.list_executions(workflow_id="send_email")) == 1
