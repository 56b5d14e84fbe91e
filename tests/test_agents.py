"""Agents end to end: the real openai/anthropic SDKs against the fake LLM servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_defs as defs
from polos import Agent, AgentResult, Polos, PolosClient, WorkflowContext, workflow
from polos.agents.providers import ProviderConfigError
from polos.testing import FakeAnthropicServer, FakeOpenAIServer, FakeToolCall, Turn
from toolkit.processes import WorkerProcess
from toolkit.waiting import wait_for_step


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        defs.point_agents_at(server.base_url)
        yield server


def tool_messages(request: object) -> list[dict[str, object]]:
    body = request.body  # type: ignore[attr-defined]
    return [m for m in body["messages"] if m.get("role") == "tool"]


async def test_multi_turn_with_parallel_tool_calls(polos: Polos, llm: FakeOpenAIServer) -> None:
    defs.TOOL_CALLS.clear()
    llm.add_turns(
        Turn.calls(
            FakeToolCall("check_inventory", {"sku": "A1", "quantity": 2}),
            FakeToolCall("calculate_shipping", {"country": "FR"}),
        ),
        Turn.reply("In stock, shipping 12.5"),
    )
    result = await defs.shopper.run(polos, "Validate order A1 x2 to FR", timeout=30)
    assert isinstance(result, AgentResult)
    assert result.result == result.text == "In stock, shipping 12.5"
    assert [t.name for t in result.tool_calls] == ["check_inventory", "calculate_shipping"]
    assert all(t.execution_id and not t.is_error for t in result.tool_calls)
    assert sorted(name for name, _ in defs.TOOL_CALLS) == ["calculate_shipping", "check_inventory"]
    assert len(llm.requests) == 2
    sent = tool_messages(llm.requests[1])
    assert len(sent) == 2 and json.loads(str(sent[0]["content"])) == {
        "sku": "A1",
        "available": True,
    }
    assert result.usage.total_tokens == 60  # 2 calls x (10 in + 20 out)
    first = llm.requests[0].body
    assert first["messages"][0] == {"role": "system", "content": "You check orders."}
    assert {t["function"]["name"] for t in first["tools"]} == {
        "check_inventory",
        "calculate_shipping",
    }
    schema = next(t for t in first["tools"] if t["function"]["name"] == "check_inventory")
    assert set(schema["function"]["parameters"]["properties"]) == {"sku", "quantity"}
    tools = [e for e in await polos.list_executions(workflow_id="check_inventory")]
    assert tools and tools[0].parent_execution_id == result.execution_id


async def test_invalid_tool_arguments_go_back_to_the_model(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.call("check_inventory", {"sku": "A1"}), Turn.reply("sorry, fixed"))
    result = await defs.shopper.run(polos, "check A1", timeout=30)
    assert result.text == "sorry, fixed"
    [call] = result.tool_calls
    assert call.is_error and "invalid arguments" in call.result and call.execution_id is None
    assert "quantity" in str(tool_messages(llm.requests[1])[0]["content"])


async def _pending_approval(polos: Polos, execution_id: str) -> object:
    for _ in range(500):
        pending = [s for s in await polos.list_suspended() if s.execution_id == execution_id]
        if pending:
            return pending[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no approval was requested")


@pytest.mark.parametrize(
    ("decision", "executed", "told"),
    [
        ({"approved": True}, {"order_id": "o1", "amount": 50.0}, "refunded 50.0 on o1"),
        (
            {"approved": True, "arguments": {"order_id": "o1", "amount": 20}},
            {"order_id": "o1", "amount": 20.0},
            "refunded 20.0 on o1",
        ),
        ({"approved": False, "reason": "too much"}, None, "rejected this call of refund: too much"),
    ],
    ids=["approve", "edit", "reject"],
)
async def test_tool_approval(
    polos: Polos, llm: FakeOpenAIServer, decision: dict[str, object], executed: object, told: str
) -> None:
    defs.TOOL_CALLS.clear()
    llm.add_turns(Turn.call("refund", {"order_id": "o1", "amount": 50}), Turn.reply("handled"))
    handle = await defs.refunder.invoke(polos, "refund order o1")
    pending = await _pending_approval(polos, handle.id)
    assert pending.data["tool"] == "refund"  # type: ignore[attr-defined]
    assert pending.data["arguments"] == {"order_id": "o1", "amount": 50}  # type: ignore[attr-defined]
    await polos.resume("ag_refunder", handle.id, pending.step_key, decision)  # type: ignore[attr-defined]
    result = await handle.result(timeout=30)
    assert result.text == "handled"
    assert ([("refund", executed)] if executed else []) == defs.TOOL_CALLS
    assert told in str(tool_messages(llm.requests[1])[0]["content"])


async def test_ask_user_suspends_and_returns_the_answer(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.call("ask_user", {"question": "Which size?"}), Turn.reply("XL it is"))
    handle = await defs.asker.invoke(polos, "buy a shirt")
    question = None
    for _ in range(500):
        found = [s for s in await polos.list_suspended("ask_user")]
        if found:
            question = found[0]
            break
        await asyncio.sleep(0.01)
    assert question is not None and question.data["question"] == "Which size?"
    await polos.resume("ask_user", question.execution_id, question.step_key, "XL")
    assert (await handle.result(timeout=30)).text == "XL it is"
    assert tool_messages(llm.requests[1])[0]["content"] == "XL"


async def test_guardrail_failure_reprompts(polos: Polos, llm: FakeOpenAIServer) -> None:
    llm.add_turns(Turn.reply("a bad answer"), Turn.reply("a fine answer"))
    result = await defs.careful.run(polos, "answer", timeout=30)
    assert result.text == "a fine answer"
    last_user = [m for m in llm.requests[1].body["messages"] if m["role"] == "user"][-1]
    assert "do not say bad" in last_user["content"]


async def test_plain_string_guardrail_is_judged_by_the_model(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(
        Turn.reply("We will refund you."),
        Turn.reply("FAIL: it promises a refund"),
        Turn.reply("We will look into it."),
        Turn.reply("PASS"),
    )
    result = await defs.judged.run(polos, "I want my money back", timeout=30)
    assert result.text == "We will look into it."
    judge_request = llm.requests[1].body["messages"]
    assert "Never promise a refund" in judge_request[-1]["content"]
    assert (
        "it promises a refund"
        in [m for m in llm.requests[2].body["messages"] if m["role"] == "user"][-1]["content"]
    )


async def test_structured_output_is_validated_and_retried(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(
        Turn.reply("looks fine to me"), Turn.reply('{"valid": true, "reason": "all in stock"}')
    )
    result = await defs.judge.run(polos, "judge", timeout=30)
    assert result.result == defs.Verdict(valid=True, reason="all in stock")
    assert (
        "JSON schema"
        in [m for m in llm.requests[1].body["messages"] if m["role"] == "user"][-1]["content"]
    )
    assert llm.requests[0].body["response_format"]["type"] == "json_schema"


async def test_stop_conditions(polos: Polos, llm: FakeOpenAIServer) -> None:
    llm.add_turns(Turn.call("check_inventory", {"sku": "A", "quantity": 1}))
    stopped = await defs.stepper.run(polos, "go", timeout=30)
    assert stopped.stop_reason.startswith("stop_condition:max_steps") and len(llm.requests) == 1
    llm.add_turns(
        Turn.call("check_inventory", {"sku": "A", "quantity": 1}),
        Turn.call("calculate_shipping", {"country": "FR"}),
        Turn.reply("never asked"),
    )
    until = await defs.until_shipping.run(polos, "go", timeout=30)
    assert until.stop_reason.startswith("stop_condition:executed_tool")
    assert [t.name for t in until.tool_calls] == ["check_inventory", "calculate_shipping"]


async def test_budget_stops_cleanly(polos: Polos, llm: FakeOpenAIServer) -> None:
    llm.add_turns(
        Turn.call("check_inventory", {"sku": "A", "quantity": 1}), Turn.reply("unreached")
    )
    result = await defs.thrifty.run(polos, "go", timeout=30)
    assert (result.stop_reason, len(llm.requests), result.usage.total_tokens) == ("budget", 1, 30)
    assert result.cost == pytest.approx((10 * 1.0 + 20 * 2.0) / 1_000_000)


async def test_streaming_chunks_arrive_before_the_run_ends(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn(text="one two three four", chunk_delay=0.1))
    stream = await defs.plain.stream(polos, "count")
    assert stream.topic == f"workflow/ag_plain/{stream.agent_run_id}"
    chunks, finished_at_first_chunk = [], None
    async for chunk in stream.text_chunks:
        chunks.append(chunk)
        if finished_at_first_chunk is None:
            finished_at_first_chunk = (await polos.get_execution(stream.agent_run_id)).status
    assert "".join(chunks) == "one two three four" and len(chunks) >= 2
    assert finished_at_first_chunk == "running"
    result = await stream.result()
    assert result.result == "one two three four" and result.total_steps == 1
    # every event, in order: the stream's start, the chunks, the agent's finish
    kinds = [e.event_type async for e in stream.events]
    assert kinds[0] == "stream_start" and kinds[-1] == "agent_finish"
    assert kinds.count("text_delta") == len(chunks)
    llm.add_turns(Turn.reply("late"))
    late = await defs.plain.stream(polos, "again")
    await late.result(timeout=30)  # a client that comes after the end still gets it all
    assert await late.text() == "late"
    events = [e async for e in late]  # our iteration: every event, then "done"
    assert events[-1].type == "done" and events[-1].result is not None
    assert [e.text for e in events if e.type == "text_delta"] == ["late"]


async def test_streaming_with_guardrails_sends_only_checked_text(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn(text="a bad answer", chunk_delay=0.05), Turn.reply("a fine answer"))
    stream = await defs.careful.stream(polos, "answer")
    deltas = [e.data for e in [e async for e in stream.events] if e.event_type == "text_delta"]
    assert [d["content"] for d in deltas] == ["a fine answer"]  # the rejected text never left
    assert deltas[0]["_metadata"] == {
        "execution_id": stream.agent_run_id,
        "workflow_id": "ag_careful",
    }
    assert not any(r.stream for r in llm.requests)  # checked answers are not streamed by the model
    assert (await stream.result()).result == "a fine answer"


async def test_streaming_parallel_tools_with_hooks(polos: Polos, llm: FakeOpenAIServer) -> None:
    defs.HOOK_EVENTS.clear()
    llm.add_turns(
        Turn.calls(
            FakeToolCall("check_inventory", {"sku": "A1", "quantity": 1}),
            FakeToolCall("calculate_shipping", {"country": "FR"}),
        ),
        Turn.reply("both checked"),
    )
    stream = await defs.hooked.stream(polos, "check both")
    events = [e async for e in stream.events]
    called = [
        e.data["tool_call"]["function"]["name"] for e in events if e.event_type == "tool_call"
    ]
    assert called == ["check_inventory", "calculate_shipping"]
    finished = {e.data["_metadata"]["workflow_id"] for e in events if e.event_type == "tool_finish"}
    assert finished == {"check_inventory", "calculate_shipping"}
    assert events[-1].event_type == "agent_finish"
    assert (await stream.result()).text == "both checked"
    assert sorted(defs.HOOK_EVENTS) == sorted(
        f"{kind}:{name}"
        for kind in ("on_tool_start", "on_tool_end")
        for name in ("check_inventory", "calculate_shipping")
    )


async def test_session_memory_and_compaction(polos: Polos, llm: FakeOpenAIServer) -> None:
    llm.add_turns(
        Turn.reply("Hi Ada"),
        Turn.reply("You are Ada"),
        Turn.reply("summary: user is Ada"),
        Turn.reply("Still Ada"),
        Turn.reply("summary: user is still Ada"),
    )
    await defs.rememberer.run(polos, "My name is Ada", session_id="s1", timeout=30)
    second = await defs.rememberer.run(polos, "Who am I?", session_id="s1", timeout=30)
    assert second.text == "You are Ada"
    contents = [m["content"] for m in llm.requests[1].body["messages"]]
    assert contents == ["My name is Ada", "Hi Ada", "Who am I?"]
    # 4 messages are over the limit of 3 after the second run: it compacted (third request).
    assert "Summarise" in llm.requests[2].body["messages"][0]["content"]
    await defs.rememberer.run(polos, "And now?", session_id="s1", timeout=30)
    fourth = [m["content"] for m in llm.requests[3].body["messages"]]
    assert fourth[0].startswith("Summary of the conversation so far: summary: user is Ada")
    assert fourth[1:] == ["Who am I?", "You are Ada", "And now?"]
    usage = await defs.rememberer.session_usage(polos, "s1")
    assert usage.total_tokens == 5 * 30  # three answers and two summaries


async def test_misconfigured_provider_fails_before_anything_runs(polos: Polos) -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider"):
        await Agent(id="ag_nowhere", provider="no-such-provider", model="m").run(polos, "hi")
    assert await polos.list_executions(workflow_id="ag_nowhere") == []


@pytest.fixture
def anthropic_llm() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


async def test_anthropic_agent_with_tools(polos: Polos, anthropic_llm: FakeAnthropicServer) -> None:
    defs.point_claude_at(anthropic_llm.base_url)
    claude = defs.claude
    anthropic_llm.add_turns(
        Turn.call("check_inventory", {"sku": "B", "quantity": 9}), Turn.reply("out of stock")
    )
    result = await claude.run(polos, "check B", timeout=30)
    assert result.text == "out of stock" and len(anthropic_llm.requests) == 2
    assert json.loads(result.tool_calls[0].result) == {"sku": "B", "available": False}


@workflow(id="ag_process_order")
async def ag_process_order(ctx: WorkflowContext, order: dict[str, object]) -> dict[str, object]:
    validation = await ctx.step.agent_invoke_and_wait(
        "validate_order", defs.order_validation_agent.with_input(f"Validate this order: {order}")
    )
    if not validation.result.valid:
        return {"status": "invalid", "reason": validation.result.reason}
    if float(order["amount"]) > 1000:  # type: ignore[arg-type]
        decision = await ctx.step.suspend(
            "approval", data={"id": order["id"], "amount": order["amount"]}
        )
        if not decision.data["approved"]:
            return {"status": "rejected"}
    payment = await ctx.step.run("charge", lambda: f"pay_{order['id']}")
    await ctx.step.wait_for_event("wait_pickup", topic=f"warehouse.pickup/{order['id']}")
    await ctx.step.run("notify", lambda: "sent")
    return {"status": "completed", "payment_id": payment}


async def test_seed_process_order_with_an_agent(polos: Polos, llm: FakeOpenAIServer) -> None:
    from polos import EventData, events

    llm.add_turns(
        Turn.calls(
            FakeToolCall("check_inventory", {"sku": "desk", "quantity": 1}),
            FakeToolCall("calculate_shipping", {"country": "FR"}),
        ),
        Turn.reply('{"valid": true, "reason": "in stock"}'),
    )
    handle = await ag_process_order.invoke(polos, {"id": "o-9", "amount": 2500})
    pending = await _pending_approval(polos, handle.id)
    await polos.resume("ag_process_order", handle.id, pending.step_key, {"approved": True})  # type: ignore[attr-defined]
    await wait_for_step(polos, handle.id, "wait_pickup")
    await events.publish(polos, "warehouse.pickup/o-9", EventData(data={}))
    assert await handle.result(timeout=30) == {"status": "completed", "payment_id": "pay_o-9"}


async def test_sigkill_mid_run_does_not_repeat_llm_or_tool_calls(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    release = tmp_path / "release"  # the tool blocks until this file exists
    env = {"POLOS_TEST_RELEASE": str(release)}
    with FakeOpenAIServer(
        [Turn.call("slow_tool", {"seconds": 60}), Turn.reply("finished")]
    ) as server:
        defs.point_agents_at(server.base_url)
        env["POLOS_TEST_LLM_URL"] = server.base_url
        worker = WorkerProcess(database_url, log, modules="agent_defs", **env)
        async with PolosClient(database_url=database_url) as client:
            handle = await defs.slow_agent.invoke(client, "go")
            # The tool has started (and cannot finish) once its line is written
            # whole: the file exists a moment before, and a kill then loses the line.
            while not (log.exists() and log.read_text().endswith("\n")):
                await asyncio.sleep(0.02)
            worker.kill()  # mid-tool: the LLM call before it is recorded
            release.touch()
            restarted = WorkerProcess(database_url, log, modules="agent_defs", **env)
            result = await handle.result(client, timeout=60)
            restarted.terminate()
        assert result.text == "finished"
        assert len(server.requests) == 2, "the recorded LLM call was not paid twice"
        assert len(log.read_text().splitlines()) == 2  # the interrupted tool ran again, once


async def test_provider_errors_in_an_agent_run(polos: Polos, llm: FakeOpenAIServer) -> None:
    llm.add_turns(
        Turn.error(429, "slow down", retry_after=0.05), Turn.reply("after the rate limit")
    )
    assert (await defs.careful.run(polos, "hi", timeout=30)).text == "after the rate limit"
    assert len(llm.requests) == 2  # retried once, honouring Retry-After

    llm.add_turns(Turn.error(400, "bad request: unknown parameter"))
    handle = await defs.careful.invoke(polos, "hi")
    with pytest.raises(Exception) as failure:
        await handle.result(timeout=30)
    assert "400" in str(failure.value) and "unknown parameter" in str(failure.value)
    assert len(llm.requests) == 3  # a 4xx is not retried


@workflow(id="ag_fan_out")
async def ag_fan_out(ctx: WorkflowContext, texts: list[str]) -> list[str]:
    results = await ctx.step.batch_agent_invoke_and_wait(
        "judge_all", [defs.careful.with_input(t) for t in texts]
    )
    return [r.result.text for r in results if r.success]


async def test_batch_agent_invocations(polos: Polos, llm: FakeOpenAIServer) -> None:
    from polos import batch_agent_invoke

    llm.add_turns(lambda request: Turn.reply(f"seen: {request.body['messages'][-1]['content']}"))
    llm.add_turns(
        *[lambda request: Turn.reply(f"seen: {request.body['messages'][-1]['content']}")] * 4
    )
    assert sorted(await ag_fan_out.run(polos, ["a", "b"], timeout=30)) == ["seen: a", "seen: b"]
    handles = await batch_agent_invoke(
        polos, [defs.careful.with_input("c"), defs.careful.with_input("d")]
    )
    assert sorted([(await h.result(timeout=30)).text for h in handles]) == ["seen: c", "seen: d"]


async def test_a_replayed_model_call_does_not_rebuild_its_request(
    polos: Polos, llm: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building a request validates the whole conversation: done for every
    # replayed turn, that made each replay of an N-turn run O(N^2). Only the
    # calls that reach the model build one.
    from polos.agents import loop

    built = 0
    real_request = loop._Loop.request

    def counting(self: loop._Loop) -> object:
        nonlocal built
        built += 1
        return real_request(self)

    monkeypatch.setattr(loop._Loop, "request", counting)
    shipping = [Turn.call("calculate_shipping", {"country": "FR"}) for _ in range(4)]
    llm.add_turns(*shipping, Turn.reply("done"))
    result = await defs.shopper.run(polos, "Ship it", timeout=30)
    assert result.text == "done" and len(result.tool_calls) == 4
    assert len(llm.requests) == 5
    assert built == 5  # one per model call; none for the 1 + 2 + 3 + 4 replayed turns
