"""The Slack channel end to end, on SQLite and PostgreSQL: a run that waits for a person
posts to a (fake) Slack with Approve / Reject buttons; a click, signed as Slack signs
it, reaches our server's ``/slack/v1/interactions`` and resumes the run exactly once;
the message is replaced by who answered; a second click is refused; a forged or stale
click is a 401. Other suspends get a link to the approval page, routed by ``_notify``;
a run's output follows into a Slack thread."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from polos import (
    Agent,
    Polos,
    SlackChannel,
    SlackChannelConfig,
    WorkflowContext,
    tool,
    workflow,
)
from polos.channels import SlackApiError, SuspendNotification
from polos.store.api_keys import new_api_key
from polos.testing import FakeOpenAIServer, FakeSlackServer, RecordedRequest, SlackMessage, Turn
from polos.testing.fake_slack import signed_headers
from server_kit import Served, serving, until

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
SENT: list[str] = []


class Email(BaseModel):
    to: str
    subject: str


@tool(id="sl_send_email", description="Send an email", approval="always")
async def sl_send_email(ctx: WorkflowContext, input: Email) -> dict[str, Any]:
    SENT.append(input.to)
    return {"sent": True, "to": input.to}


assistant = Agent(id="sl_assistant", provider="openai", model="gpt-test", tools=[sl_send_email])


@workflow(id="sl_review")
async def sl_review(ctx: WorkflowContext, payload: dict[str, Any]) -> Any:
    answer = await ctx.step.suspend(
        "review",
        {
            "_form": {
                "title": "Review the PR",
                "description": "Please check it",
                "fields": [{"key": "comment", "type": "text", "label": "Comment"}],
            },
            "_notify": {"slack": {"channel": "C_OPS", "thread_ts": "111.222"}},
        },
    )
    return answer["data"]


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer(bot_token=TOKEN) as server:
        yield server


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        assistant.provider_base_url = server.base_url
        assistant._provider = None  # built once per URL
        yield server


def _channel(slack: FakeSlackServer) -> SlackChannel:
    return SlackChannel(SlackChannelConfig(TOKEN, "C_AGENTS", api_url=slack.api_url))


@pytest.fixture
async def served(
    database_url: str, slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Polos, Served]]:
    async with serving(database_url, slack_signing_secret=SECRET) as s:
        monkeypatch.setenv("POLOS_APPROVAL_BASE_URL", s.url)
        p = Polos(
            database_url=database_url,
            workflows=[assistant, sl_send_email, sl_review],
            channels=[_channel(slack)],
            hold_seconds=0,
            lease_seconds=5.0,
            poll_interval=0.05,
            shutdown_grace_seconds=2.0,
        )
        await p.start()
        try:
            yield p, s
        finally:
            await p.stop()


async def _message(slack: FakeSlackServer, channel: str, count: int = 1) -> SlackMessage:
    async def posted() -> list[SlackMessage]:
        found = [m for m in slack.in_channel(channel) if m.blocks]
        return found if len(found) >= count else []

    return (await until(posted))[count - 1]


def _email_turns(llm: FakeOpenAIServer, to: str) -> None:
    def answer(request: RecordedRequest) -> Turn:
        messages = request.body["messages"]
        [result] = [m for m in messages if m.get("role") == "tool"]  # type: ignore[union-attr]
        return Turn.reply("done: " + str(result["content"]))  # type: ignore[index]

    llm.add_turns(Turn.call("sl_send_email", {"to": to, "subject": "Q1"}), answer)


async def test_approve_in_slack_resumes_the_run_once(
    served: tuple[Polos, Served], slack: FakeSlackServer, llm: FakeOpenAIServer
) -> None:
    polos, server = served
    SENT.clear()
    _email_turns(llm, "alice@example.com")
    # Streaming, as Polos's examples ask: the tool calls are published for followers.
    handle = await polos.invoke(
        assistant.id, {"input": "Send an email to alice about Q1", "streaming": True}
    )
    follower = asyncio.create_task(
        _channel(slack).stream_to_thread(polos, handle, channel="C_THREADS")
    )
    message = await _message(slack, "C_AGENTS")

    # The message: what waits, the tool's input, and three buttons.
    header = message.blocks[0]["text"]["text"]
    assert header == "Approve tool: sl_send_email"
    assert '\\"to\\": \\"alice@example.com\\"' in json.dumps(message.blocks)  # the input
    approve, reject, link = message.buttons()
    assert (approve["action_id"], reject["action_id"]) == ("polos_approve", "polos_reject")
    step_key = json.loads(approve["value"])["stepKey"]
    assert json.loads(approve["value"]) == {
        "executionId": handle.id,
        "stepKey": step_key,
        "approved": True,
    }
    assert step_key.startswith("approve_")
    assert link["url"] == f"{server.url}/approve/{handle.id}/{step_key}"
    before_click = copy.deepcopy(message)

    clicked = await slack.click(server.url, message, "polos_approve", SECRET, user="alice")
    assert clicked.status_code == 200, clicked.text
    assert clicked.json() == {
        "ok": True,
        "handled": True,
        "execution_id": handle.id,
        "step_key": step_key,
        "approved": True,
    }
    result = await polos.client.wait_for_result(handle.id, timeout=30)
    assert result.result == 'done: {"sent": true, "to": "alice@example.com"}'
    [call] = result.tool_calls
    assert call.approval == "approved"
    assert SENT == ["alice@example.com"]  # the tool ran once

    # The message lost its buttons and says who approved.
    assert message.buttons() == []
    assert message.blocks[0]["text"]["text"] == "Approve tool: sl_send_email"
    assert message.blocks[-1]["elements"][0]["text"] == "\u2705 Approved by @alice"

    # A second click (a stale copy of the message) is refused; the clicker is told.
    again = await slack.click(server.url, before_click, "polos_reject", SECRET, user="bob")
    assert again.status_code == 409
    assert "already answered" in again.json()["error"]
    assert message.responses[-1]["response_type"] == "ephemeral"
    assert "already handled" in message.responses[-1]["text"]
    assert SENT == ["alice@example.com"]

    # The run's output followed into a thread of its own.
    assert await asyncio.wait_for(follower, 20) >= 2
    thread = slack.in_channel("C_THREADS")
    assert thread[0].thread_ts is None and "sl_assistant" in thread[0].text
    replies = [m.text for m in thread[1:]]
    assert all(m.thread_ts == thread[0].ts for m in thread[1:])
    assert "\U0001f527 Calling tool: `sl_send_email`" in replies
    assert replies[-1].startswith("done: ")


async def test_reject_in_slack_tells_the_agent(
    served: tuple[Polos, Served], slack: FakeSlackServer, llm: FakeOpenAIServer
) -> None:
    polos, server = served
    # Once API keys exist every route needs one, but Slack sends none: its signature counts.
    _, key = new_api_key("default", "ci", time.time())
    await polos.client.store.create_api_key(key)
    assert (await server.http.get("/api/v1/executions")).status_code == 401
    SENT.clear()
    _email_turns(llm, "eve@example.com")
    handle = await assistant.invoke(polos, "Send an email to eve")
    message = await _message(slack, "C_AGENTS")
    clicked = await slack.click(server.url, message, "Reject", SECRET, user="carol")
    assert clicked.status_code == 200 and clicked.json()["approved"] is False
    result = await polos.client.wait_for_result(handle.id, timeout=30)
    assert result.tool_calls[0].approval == "rejected"
    assert SENT == []
    assert message.blocks[-1]["elements"][0]["text"] == "\u274c Rejected by @carol"


async def test_forged_stale_and_foreign_clicks(
    served: tuple[Polos, Served], slack: FakeSlackServer
) -> None:
    polos, server = served
    handle = await sl_review.invoke(polos, {})
    message = await _message(slack, "C_OPS")
    # Not a yes/no form: a single link to the approval page, in the _notify thread.
    [respond] = message.buttons()
    assert respond["text"]["text"] == "Respond" and "action_id" not in respond
    assert respond["url"] == f"{server.url}/approve/{handle.id}/review"
    assert message.thread_ts == "111.222"

    forged = await slack.click(server.url, message, "Respond", "not-the-secret")
    assert forged.status_code == 401
    assert "SLACK_SIGNING_SECRET" in forged.json()["error"]
    stale = await slack.click(
        server.url, message, "Respond", SECRET, timestamp=int(time.time()) - 600
    )
    assert stale.status_code == 401 and "stale or replayed" in stale.json()["error"]
    unsigned = await server.http.post("/slack/v1/interactions", content=b"payload=%7B%7D")
    assert unsigned.status_code == 401
    assert "X-Slack-Request-Timestamp header is missing" in unsigned.json()["error"]

    # A link button's click is acknowledged and ignored; the run still waits.
    link_click = await slack.click(server.url, message, "Respond", SECRET)
    assert link_click.status_code == 200 and link_click.json()["handled"] is False

    # Bad payloads, correctly signed.
    for body, error in [
        (b"nothing=1", "no payload field"),
        (b"payload=%7Bnot-json", "not valid JSON"),
        (
            b"payload="
            + httpx.QueryParams(
                {
                    "payload": json.dumps(
                        {"actions": [{"action_id": "polos_approve", "value": "{}"}]}
                    )
                }
            )["payload"].encode(),
            "button value must be",
        ),
    ]:
        bad = await server.http.post(
            "/slack/v1/interactions", content=body, headers=signed_headers(SECRET, body)
        )
        assert bad.status_code == 400 and error in bad.json()["error"], bad.text
    assert (await polos.client.get_execution(handle.id)).status == "waiting"


async def test_no_signing_secret_no_slack(sqlite_url: str) -> None:
    async with serving(sqlite_url) as s:
        body = b"payload=%7B%7D"
        refused = await s.http.post(
            "/slack/v1/interactions", content=body, headers=signed_headers(SECRET, body)
        )
        assert refused.status_code == 403
        assert "SLACK_SIGNING_SECRET" in refused.json()["error"]
        spec = (await s.http.get("/openapi.json")).json()
        assert "post" in spec["paths"]["/slack/v1/interactions"]


# --- the channel alone -------------------------------------------------------------------


def _notice(**fields: Any) -> SuspendNotification:
    base: dict[str, Any] = {
        "workflow_id": "wf",
        "execution_id": "run-1",
        "step_key": "ask",
        "approval_url": "http://localhost:8080/approve/run-1/ask",
    }
    return SuspendNotification(**{**base, **fields})


async def test_slack_refusals_are_named(slack: FakeSlackServer) -> None:
    with pytest.raises(ValueError, match="xoxb-"):
        SlackChannel(SlackChannelConfig("xoxp-user-token", "#x"))
    with pytest.raises(ValueError, match="default_channel is empty"):
        SlackChannel(SlackChannelConfig(TOKEN, ""))

    wrong = SlackChannel(SlackChannelConfig("xoxb-wrong", "#x", api_url=slack.api_url))
    with pytest.raises(SlackApiError, match=r"invalid_auth \(check the bot token\)"):
        await wrong.notify(_notice())

    limited = FakeSlackServer(channels=["C1"])
    async with limited:
        channel = SlackChannel(SlackChannelConfig(TOKEN, "#nope", api_url=limited.api_url))
        with pytest.raises(SlackApiError, match=r"channel_not_found.*invite"):
            await channel.notify(_notice())
        done = await channel.notify(_notice(channel_overrides={"channel": "C1"}))
        assert done is not None and done["slack_channel"] == "C1" and done["slack_message_ts"]

    # Rate limits: Slack's Retry-After is waited out, up to three tries.
    ok = SlackChannel(SlackChannelConfig(TOKEN, "#x", api_url=slack.api_url))
    slack.rate_limit(times=1, retry_after=0)
    assert await ok.notify(_notice())
    assert [m for m, _ in slack.calls[-2:]] == ["chat.postMessage", "chat.postMessage"]
    slack.rate_limit(times=3, retry_after=0)
    with pytest.raises(SlackApiError, match=r"ratelimited \(Slack's rate limit"):
        await ok.notify(_notice())

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    down = SlackChannel(SlackChannelConfig(TOKEN, "#x", api_url=closed))
    with pytest.raises(SlackApiError, match=r"could not reach.*POLOS_SLACK_API_URL"):
        await down.notify(_notice())
