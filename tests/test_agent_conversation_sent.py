"""What a held agent run sends the model, call after call, in each wire format.

A run held in memory between its tool calls keeps its conversation's wire form
and converts only what each turn added. These tests check that every call
still sends the whole conversation as it is then, including after a hook
replaced the conversation (the kept form must start over, not be extended).
Real SDKs against the fake servers, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from polos import Agent, HookContext, HookResult, Polos, WorkflowContext, hook, tool
from polos.testing import FakeAnthropicServer, FakeOpenAIServer, Turn

PROMPT = "You echo numbers."


class Number(BaseModel):
    n: int


@tool(description="Returns its input")
async def conv_echo(ctx: WorkflowContext, input: Number) -> int:
    return input.n


@hook
def rewrite_at_step_3(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    """Before the third model call, the user's question is replaced."""
    payload = hook_ctx.current_payload
    if payload["step"] != 3:
        return HookResult.continue_with()
    messages = [
        {**m, "content": "REWRITTEN"} if m["role"] == "user" else m for m in payload["messages"]
    ]
    return HookResult.continue_with(modified_payload={"messages": messages})


AGENTS = {
    kind: Agent(
        id=f"conv_{kind.replace('-', '_')}",
        provider=kind,
        model="m",
        system_prompt=PROMPT,
        tools=[conv_echo],
        on_agent_step_start=[rewrite_at_step_3],
    )
    for kind in ("openai-chat", "openai-responses", "anthropic")
}


def read(kind: str, body: dict[str, Any]) -> tuple[str, str, list[str], int]:
    """(system prompt, user text, tool outputs in order, number of wire items) of a body."""
    if kind == "openai-chat":
        items = body["messages"]
        system = items[0]["content"]
        user = [m["content"] for m in items if m["role"] == "user"]
        outputs = [m["content"] for m in items if m["role"] == "tool"]
    elif kind == "openai-responses":
        items = body["input"]
        system = items[0]["content"]
        user = [i["content"] for i in items if i.get("role") == "user"]
        outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
    else:
        items = body["messages"]
        system = body["system"]
        user = [m["content"] for m in items if isinstance(m["content"], str)]
        outputs = [
            b["content"]
            for m in items
            if isinstance(m["content"], list)
            for b in m["content"]
            if b["type"] == "tool_result"
        ]
    [text] = user
    return system, text, outputs, len(items)


@pytest.fixture(params=sorted(AGENTS))
def kind(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


async def test_every_call_sends_the_conversation_as_it_is_then(
    database_url: str, kind: str
) -> None:
    agent = AGENTS[kind]
    turns = [Turn.call("conv_echo", {"n": i}) for i in range(4)] + [Turn.reply("done")]
    server = FakeAnthropicServer(turns) if kind == "anthropic" else FakeOpenAIServer(turns)
    with server:
        agent.provider_base_url, agent._provider = server.base_url, None
        async with Polos(
            database_url=database_url, workflows=[agent, conv_echo], hold_seconds=10
        ) as polos:
            result = await agent.run(polos, "echo four numbers", timeout=60)
        bodies = [r.body for r in server.requests]
    assert result.text == "done" and [int(c.result) for c in result.tool_calls] == [0, 1, 2, 3]
    sent = [read(kind, body) for body in bodies]
    assert [s[0] for s in sent] == [PROMPT] * 5
    # The hook's rewrite reaches the third call and stays for the later ones.
    assert [s[1] for s in sent] == ["echo four numbers"] * 2 + ["REWRITTEN"] * 3
    assert [s[2] for s in sent] == [[], ["0"], ["0", "1"], ["0", "1", "2"], ["0", "1", "2", "3"]]
    # Each turn adds the model's call and its result, nothing more, nothing twice.
    first = sent[0][3]
    assert [s[3] for s in sent] == [first + 2 * k for k in range(5)]
