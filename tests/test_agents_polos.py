"""The agent API in Polos's shapes, through the public API, on SQLite and PostgreSQL.

Hooks and guardrails as ``fn(ctx, hook_ctx)`` / ``fn(ctx, guardrail_ctx)`` with
Polos's context fields and ``continue_with(**modifications)``; ``@stop_condition``
factories; ``Tool(...)`` with ``parameters``, ``on_start``, ``on_end``, tools
taking only ``ctx``; the records an agent returns (``AgentResult``, ``Step``,
``ToolResult``, ``Usage``); the ``"streaming"`` payload key; ``provider_kwargs``;
``CompactionConfig``. The fake model server plays the model; the workers in
these tests replay a run after every wait, so each hook and guardrail is
also checked to run once however often its run replays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import polos as sdk
from polos import (
    Agent,
    AgentContext,
    AgentResult,
    GuardrailContext,
    GuardrailResult,
    HookAction,
    HookContext,
    HookResult,
    MaxStepsConfig,
    Polos,
    Step,
    StopConditionContext,
    Tool,
    ToolCall,
    ToolCallFunction,
    ToolResult,
    Usage,
    WorkflowContext,
    executed_tool,
    guardrail,
    has_text,
    hook,
    max_steps,
    stop_condition,
    tool,
)
from polos.errors import WorkflowDefinitionError, WorkflowFailedError
from polos.memory.types import CompactionConfig
from polos.testing import FakeOpenAIServer, FakeToolCall, RecordedRequest, Turn

SEEN: list[tuple[str, Any]] = []


class Lookup(BaseModel):
    sku: str


class Stock(BaseModel):
    sku: str
    count: int


@tool(description="How many of an item are in stock")
async def pl_stock(ctx: WorkflowContext, input: Lookup) -> Stock:
    SEEN.append(("pl_stock", input.sku))
    return Stock(sku=input.sku, count=len(input.sku))


@tool
async def pl_clock(ctx: WorkflowContext) -> str:
    """The time on the warehouse clock."""
    SEEN.append(("pl_clock", None))
    return "09:30"


def _refund(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    SEEN.append(("pl_refund", payload))
    return {"refunded": payload["amount"]}


pl_refund = Tool(
    id="pl_refund",
    description="Refund an amount",
    parameters={"type": "object", "properties": {"amount": {"type": "number"}}},
    func=_refund,
    on_start=lambda ctx, hc: HookResult.continue_with(
        modified_payload={"amount": hc.current_payload["amount"] * 2}
    ),
    on_end=[lambda ctx, hc: HookResult.continue_with(modified_output={"note": "doubled"})],
)


@tool(description="Wire money", approval="always")
async def pl_wire(ctx: WorkflowContext, input: Lookup) -> str:
    SEEN.append(("pl_wire", input.sku))
    return "wired"


# --- hooks -------------------------------------------------------------------------------------


@hook
def note_start(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    assert isinstance(ctx, AgentContext) and ctx.agent_id == "pl_hooked"
    SEEN.append(("on_start", (hook_ctx.current_payload, hook_ctx.agent_config)))
    changed = {"input": hook_ctx.current_payload["input"].upper()}
    return HookResult.continue_with(modified_payload=changed)


@hook()
def note_start_again(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    SEEN.append(("on_start 2", hook_ctx.current_payload["input"]))  # sees the first hook's change
    return HookResult.continue_with()


@hook
async def note_step_start(ctx: WorkflowContext, hook_ctx: HookContext) -> None:
    SEEN.append(("on_agent_step_start", hook_ctx.current_payload["step"]))


@hook
def note_tool_start(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    SEEN.append(("on_tool_start", (hook_ctx.current_tool, hook_ctx.current_payload)))
    return HookResult.continue_with(modified_payload={"sku": "XYZ"})


@hook
def note_tool_end(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    SEEN.append(("on_tool_end", hook_ctx.current_output))
    return HookResult.continue_with(modified_output={"count": 99})


@hook
def note_step_end(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    assert isinstance(hook_ctx.current_output, Step)
    SEEN.append(("on_agent_step_end", (hook_ctx.current_output.step, len(hook_ctx.steps))))
    return HookResult.continue_with()


@hook
def note_end(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    assert isinstance(hook_ctx.current_output, AgentResult)
    SEEN.append(("on_end", hook_ctx.agent_config))
    return HookResult.continue_with(modified_output={"result": "rewritten by on_end"})


hooked = Agent(
    id="pl_hooked",
    provider="openai",
    model="gpt-test",
    tools=[pl_stock],
    on_start=[note_start, note_start_again],
    on_end=note_end,
    on_agent_step_start=[note_step_start],
    on_agent_step_end=note_step_end,
    on_tool_start=note_tool_start,
    on_tool_end=note_tool_end,
)


@hook
def refuse(ctx: WorkflowContext, hook_ctx: HookContext) -> HookResult:
    return HookResult.fail("no tools today")


refusing = Agent(
    id="pl_refusing", provider="openai", model="gpt-test", tools=[pl_stock], on_tool_start=[refuse]
)

# --- guardrails --------------------------------------------------------------------------------


@guardrail
def redact(ctx: WorkflowContext, guardrail_ctx: GuardrailContext) -> GuardrailResult:
    assert isinstance(ctx, AgentContext)
    SEEN.append(("redact", (guardrail_ctx.agent_workflow_id, guardrail_ctx.llm_config.model)))
    text = guardrail_ctx.content or ""
    return GuardrailResult.continue_with(modified_content=text.replace("secret", "[REDACTED]"))


@guardrail()
def no_refunds(ctx: WorkflowContext, guardrail_ctx: GuardrailContext) -> GuardrailResult:
    calls = guardrail_ctx.tool_calls or []
    kept = [c for c in calls if c.function.name != "pl_refund"]
    if len(kept) != len(calls):
        SEEN.append(("no_refunds", [c.function.name for c in calls]))
    return GuardrailResult.continue_with(modified_tool_calls=kept)


@guardrail
def no_shouting(ctx: WorkflowContext, guardrail_ctx: GuardrailContext) -> GuardrailResult:
    if (guardrail_ctx.content or "").isupper():
        return GuardrailResult.fail("do not shout")
    return GuardrailResult.continue_with()


guarded = Agent(
    id="pl_guarded",
    provider="openai",
    model="gpt-test",
    tools=[pl_stock, pl_refund],
    guardrails=[no_refunds, redact],
)
polite = Agent(
    id="pl_polite",
    provider="openai",
    model="gpt-test",
    guardrails=no_shouting,
    guardrail_max_retries=1,
)

# --- stop conditions ---------------------------------------------------------------------------


class Budget(BaseModel):
    calls: int = 2


@stop_condition
def tool_calls_at_most(ctx: StopConditionContext, config: Budget) -> bool:
    SEEN.append(("tool_calls_at_most", (config.calls, ctx.agent_id, len(ctx.steps))))
    return len(ctx.tool_calls) >= config.calls


@stop_condition
async def after_clock(ctx: StopConditionContext) -> bool:
    return any(c.function.name == "pl_clock" for c in ctx.tool_calls)


counted = Agent(
    id="pl_counted",
    provider="openai",
    model="gpt-test",
    tools=[pl_stock, pl_clock],
    stop_conditions=[tool_calls_at_most({"calls": 2}), after_clock],
)
clocked = Agent(
    id="pl_clocked",
    provider="openai",
    model="gpt-test",
    tools=[pl_clock],
    stop_conditions=[after_clock()],
)
refunder = Agent(id="pl_refunder", provider="openai", model="gpt-test", tools=[pl_refund])
compacting = Agent(
    id="pl_compacting",
    provider="openai",
    model="gpt-test",
    compaction=CompactionConfig(max_conversation_tokens=8, min_recent_messages=2),
)
plain = Agent(id="pl_plain", provider="openai", model="gpt-test", temperature=0.5)
wirer = Agent(id="pl_wirer", provider="openai", model="gpt-test", tools=[pl_wire])

AGENTS = (hooked, refusing, guarded, polite, counted, clocked, refunder, compacting, plain, wirer)


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    SEEN.clear()
    with FakeOpenAIServer() as server:
        for agent in AGENTS:
            agent.provider_base_url = server.base_url
            agent._provider = None
        yield server


def tool_messages(request: RecordedRequest) -> list[Any]:
    return [
        json.loads(m["content"]) if m["content"].startswith("{") else m["content"]
        for m in request.body["messages"]
        if m.get("role") == "tool"
    ]


def seen(kind: str) -> list[Any]:
    return [value for name, value in SEEN if name == kind]


# --- the tests --------------------------------------------------------------------------------


async def test_hooks_see_polos_contexts_and_change_the_run(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.call("pl_stock", {"sku": "A"}), Turn.reply("there are 99"))
    result = await hooked.run(polos, "how many a?", session_id="s-1", user_id="u-1", timeout=30)
    # on_start: the payload as Polos shapes it, no model config; the change reaches the model
    [(payload, config)] = seen("on_start")
    assert payload == {"input": "how many a?", "streaming": False, "provider_kwargs": {}}
    assert config is None and seen("on_start 2") == ["HOW MANY A?"]
    assert llm.requests[0].body["messages"][-1]["content"] == "HOW MANY A?"
    # on_tool_start changes the arguments; on_tool_end changes what the model is told
    assert seen("on_tool_start") == [("pl_stock", {"sku": "A"})]
    assert seen("pl_stock") == ["XYZ"]
    assert seen("on_tool_end") == [Stock(sku="XYZ", count=3)]
    assert tool_messages(llm.requests[1]) == [{"sku": "XYZ", "count": 99}]
    assert seen("on_agent_step_start") == [1, 2]
    assert seen("on_agent_step_end") == [(1, 1), (2, 2)]
    [end_config] = seen("on_end")
    assert end_config is None
    # on_end's change is the run's result
    assert result.result == "rewritten by on_end"
    assert result.tool_results[0].result == Stock(sku="XYZ", count=99)


async def test_a_failing_hook_stops_the_run_with_its_message(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.call("pl_stock", {"sku": "A"}))
    with pytest.raises(WorkflowFailedError, match="HookFailedError: no tools today"):
        await refusing.run(polos, "go", timeout=30)
    assert seen("pl_stock") == []


def test_hook_results_and_definitions() -> None:
    failed = HookResult.fail("why")
    assert failed.action == HookAction.FAIL == "fail" and failed.error_message == "why"
    assert HookResult.continue_with(modified_output={"a": 1}).action == HookAction.CONTINUE
    assert GuardrailResult.continue_with(modified_content="x").modified_content == "x"
    assert HookContext(workflow_id="w").to_dict()["steps"] == []
    with pytest.raises(WorkflowDefinitionError, match="list of them"):
        Agent(id="pl_bad_hooks", provider="openai", model="m", on_end=[note_end, "not a hook"])
    with pytest.raises(WorkflowDefinitionError, match="must take"):
        Agent(id="pl_bad_arity", provider="openai", model="m", on_start=lambda a, b, c: None)
    with pytest.raises(WorkflowDefinitionError, match="guardrail"):
        Agent(id="pl_bad_rail", provider="openai", model="m", guardrails=[42])


async def test_guardrails_rewrite_content_and_drop_tool_calls(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(
        Turn.calls(
            FakeToolCall("pl_stock", {"sku": "B"}, id="c1"),
            FakeToolCall("pl_refund", {"amount": 10}, id="c2"),
        ),
        Turn.reply("the secret count is 1"),
    )
    result = await guarded.run(polos, "stock of B, and refund me", timeout=30)
    assert result.result == "the [REDACTED] count is 1"
    assert seen("no_refunds") == [["pl_stock", "pl_refund"]]
    assert [name for name, _ in SEEN if name.startswith("pl_")] == ["pl_stock"]
    assert seen("redact")[0] == ("pl_guarded", "gpt-test")
    # the model's next request holds only the call that was kept
    sent = [m for m in llm.requests[1].body["messages"] if m.get("tool_calls")]
    assert [c["function"]["name"] for c in sent[0]["tool_calls"]] == ["pl_stock"]


async def test_failing_guardrail_retries_then_fails_as_polos_says(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.reply("NO"), Turn.reply("fine, thank you"))
    assert (await polite.run(polos, "hi", timeout=30)).result == "fine, thank you"
    feedback = llm.requests[1].body["messages"][-1]["content"]
    assert feedback.startswith("Previous attempt failed guardrail validation: do not shout")
    llm.add_turns(Turn.reply("NO"), Turn.reply("STILL NO"))
    with pytest.raises(
        WorkflowFailedError, match=r"Guardrail failed after 1 retries\. Last error: do not shout"
    ):
        await polite.run(polos, "hi", timeout=30)


async def test_stop_conditions_as_config_factories(polos: Polos, llm: FakeOpenAIServer) -> None:
    assert MaxStepsConfig().count == 20
    assert max_steps().config == MaxStepsConfig(count=20)  # type: ignore[attr-defined]
    assert tool_calls_at_most(calls=3).config == Budget(calls=3)  # type: ignore[attr-defined]
    context = StopConditionContext(
        steps=[
            Step(
                step=1,
                content="all done here",
                tool_calls=[ToolCall(id="1", function=ToolCallFunction(name="a", arguments="{}"))],
            )
        ]
    )
    assert has_text({"texts": ["all", "done"]})(context) is True
    assert executed_tool({"tool_names": ["a", "b"]})(context) is False  # all of them, as Polos
    llm.add_turns(Turn.call("pl_stock", {"sku": "A"}), Turn.call("pl_stock", {"sku": "B"}))
    result = await counted.run(polos, "go", timeout=30)
    assert result.stop_reason == "stop_condition:tool_calls_at_most"
    assert (result.total_steps, len(llm.requests), result.result) == (2, 2, None)
    assert seen("tool_calls_at_most") == [(2, "pl_counted", 1), (2, "pl_counted", 2)]
    llm.add_turns(Turn.call("pl_clock"))
    clock = await clocked.run(polos, "time?", timeout=30)
    assert clock.stop_reason == "stop_condition:after_clock"
    assert clock.tool_results[0].result == "09:30"
    # a tool taking only ctx: the model was offered no parameters
    assert llm.requests[-1].body["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {},
    }


async def test_tool_with_parameters_and_its_own_hooks(polos: Polos, llm: FakeOpenAIServer) -> None:
    assert pl_refund.to_llm_tool_definition()["function"]["parameters"]["properties"] == {
        "amount": {"type": "number"}
    }
    llm.add_turns(Turn.call("pl_refund", {"amount": 5}), Turn.reply("refunded"))
    result = await refunder.run(polos, "refund 5", timeout=30)
    assert seen("pl_refund") == [{"amount": 10}]  # the tool's on_start doubled it
    assert tool_messages(llm.requests[1]) == [{"refunded": 10, "note": "doubled"}]
    [record] = result.tool_results
    assert isinstance(record, ToolResult)
    assert (record.tool_name, record.status, record.tool_call_id) == (
        "pl_refund",
        "completed",
        llm.requests[1].body["messages"][-1]["tool_call_id"],
    )


async def test_agent_result_and_steps_in_polos_shape(polos: Polos, llm: FakeOpenAIServer) -> None:
    from polos.types import AgentResult as FromTypes
    from polos.types.types import Step as StepFromTypes

    assert FromTypes is AgentResult and StepFromTypes is Step is sdk.Step
    llm.add_turns(Turn.call("pl_stock", {"sku": "AB"}), Turn.reply("2 in stock"))
    result = await counted.run(polos, "stock of AB?", timeout=30)
    assert isinstance(result, AgentResult) and result.agent_run_id == result.execution_id
    assert (result.result, result.result_schema, result.total_steps) == ("2 in stock", None, 2)
    assert result.usage == Usage(input_tokens=20, output_tokens=40, total_tokens=60)
    [record] = result.tool_results
    assert record.result == Stock(sku="AB", count=2)
    assert record.result_schema == f"{__name__}.Stock"
    first, second = result.steps
    assert first.tool_calls[0].function.name == "pl_stock"
    assert json.loads(first.tool_calls[0].function.arguments) == {"sku": "AB"}
    assert first.tool_results == [record] and second.content == "2 in stock"


async def test_streaming_payload_key_and_provider_kwargs(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn(text="one two three"))
    handle = await plain.invoke(polos, {"input": "count", "streaming": True})
    assert (await handle.result(timeout=30)).result == "one two three"
    assert llm.requests[0].stream
    from polos import events

    deltas = [
        e.data["content"]
        async for e in events.stream_workflow(polos, "pl_plain", handle.id, last_sequence_id=0)
        if e.event_type == "text_delta"
    ]
    assert "".join(deltas) == "one two three"
    llm.add_turns(Turn.reply("ok"))
    await plain.run(polos, "hi", timeout=30, temperature=0.1, top_p=0.5, seed=7)
    body = llm.requests[-1].body
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.1, 0.5, 7)
    assert not llm.requests[-1].stream


async def test_compaction_config_compacts_by_tokens(polos: Polos, llm: FakeOpenAIServer) -> None:
    llm.add_turns(
        Turn.reply("Hello Ada, nice to meet you"),
        Turn.reply("a summary: the user is Ada"),
        Turn.reply("You are Ada"),
        Turn.reply("a summary: the user is Ada, who asked who she is"),
    )
    await compacting.run(polos, "My name is Ada", session_id="pl-s", timeout=30)
    assert "Summarise" in llm.requests[1].body["messages"][0]["content"]
    await compacting.run(polos, "Who am I?", session_id="pl-s", timeout=30)
    later = [m["content"] for m in llm.requests[2].body["messages"]]
    assert later[0] == "Summary of the conversation so far: a summary: the user is Ada"
    assert later[1:] == ["My name is Ada", "Hello Ada, nice to meet you", "Who am I?"]


async def test_tool_approval_speaks_polos_form_and_feedback(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    import asyncio

    llm.add_turns(Turn.call("pl_wire", {"sku": "W"}), Turn.reply("not wired"))
    stream = await wirer.stream(polos, "wire it")
    async for event in stream.events:
        if event.event_type.startswith("suspend_"):
            break
    form = event.data["_form"]
    assert (event.data["_source"], event.data["_tool"]) == ("tool_approval", "pl_wire")
    assert form["title"] == "Approve tool: pl_wire"
    assert [f["key"] for f in form["fields"]] == ["approved", "feedback"]
    assert form["context"] == {"tool": "pl_wire", "input": {"sku": "W"}}
    step_key = event.event_type.removeprefix("suspend_")
    await polos.resume(
        stream.root_workflow_id,
        stream.root_execution_id,
        step_key,
        {"approved": False, "feedback": "too risky"},
    )
    result = await asyncio.wait_for(stream.result(), 30)
    assert result.result == "not wired" and seen("pl_wire") == []
    told = llm.requests[1].body["messages"][-1]["content"]
    assert told == "The user rejected this call of pl_wire: too risky"


async def test_iterating_a_failed_stream_raises_its_failure(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.reply("NO"), Turn.reply("STILL NO"))
    stream = await polite.stream(polos, "hi")
    seen_types: list[str] = []
    with pytest.raises(WorkflowFailedError, match="Last error: do not shout"):
        async for event in stream.events:
            seen_types.append(event.event_type)
    assert "text_delta" not in seen_types  # the rejected answers never streamed
    assert seen_types[-1] == "agent_finish"
