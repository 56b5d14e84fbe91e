"""The agent loop: the body of every agent's workflow.

Each LLM call is a step (its response and token usage recorded), each
stop-condition check and guardrail is a step, and the tool calls of one turn
run as durable child workflows in parallel. A crash anywhere resumes without
repeating a recorded LLM call or tool call.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from .. import serialization
from ..engine.context import WorkflowContext
from ..errors import PolosError
from ..store.records import NewEvent
from ..types import BatchWorkflowInput
from .control import GuardrailContext, GuardrailResult, HookContext, HookResult, StopContext
from .memory import COMPACTION, MESSAGES, SessionMemory, load_session, session_topic, summary_prompt
from .providers.base import Provider
from .providers.types import LLMRequest, LLMResponse, Message, StreamChunk, ToolResult, Usage
from .results import AgentInput, AgentResult, AgentStep, ToolCallRecord

if TYPE_CHECKING:
    from .agent import Agent
    from .tools import Tool

_CHUNK_FLUSH_SECONDS = 0.03
Approval = Literal["not_needed", "approved", "rejected", "edited"]


class AgentError(PolosError):
    """An agent could not produce an acceptable answer (guardrail, schema, hook)."""


async def run_agent(agent: Agent, ctx: WorkflowContext, payload: AgentInput) -> AgentResult:
    provider = agent.provider()  # a configuration error fails the run before any step
    loop = _Loop(agent, ctx, payload, provider)
    return await loop.run()


class _Loop:
    def __init__(self, agent: Agent, ctx: WorkflowContext, payload: AgentInput, provider: Provider):
        self.agent, self.ctx, self.payload, self.provider = agent, ctx, payload, provider
        self.session_id = ctx.session_id
        self.messages: list[Message] = []
        self.new_messages: list[Message] = []
        self.steps: list[AgentStep] = []
        self.tool_calls: list[ToolCallRecord] = []
        self.usage = Usage()
        self.memory = SessionMemory()

    # the loop ------------------------------------------------------------------------
    async def run(self) -> AgentResult:
        agent, step = self.agent, self.ctx.step
        await self.hook("on_start", 0, {"input": _input_text(self.payload.input)})
        if agent.system_prompt:
            self.messages.append(Message.system(agent.system_prompt))
        if self.session_id:
            self.memory = await step.run(
                "memory_load", _load_memory, self.ctx._run.store, self.session_id
            )
            self.messages += self.memory.messages
        self.add(*_input_messages(self.payload.input))
        output_retries = guardrail_retries = 0
        text, output, stop_reason = "", None, "max_steps"
        for i in range(1, agent.max_steps + 1):
            await self.hook("on_agent_step_start", i, {})
            await self.emit(i, "step_start", {"step": i})
            response: LLMResponse = await step.run(
                f"llm_{i}", self.call_llm, self.request(), max_retries=1
            )
            self.usage = self.usage + response.usage
            self.add(response.to_message())
            self.steps.append(
                AgentStep(
                    step=i,
                    text=response.text,
                    tool_calls=[c.name for c in response.tool_calls],
                    usage=response.usage,
                    finish_reason=response.finish_reason,
                )
            )
            text = response.text
            if response.tool_calls:
                await self.run_tools(i, response)
            else:
                verdict = await self.judge_answer(i, text, output_retries, guardrail_retries)
                if verdict is None:  # accepted
                    output = self.parse_output(text)
                    text = self.final_text
                    stop_reason = "final_answer"
                    await self.after_step(i)
                    break
                output_retries += verdict == "schema"
                guardrail_retries += verdict == "guardrail"
            await self.after_step(i)
            if self.over_budget():
                stop_reason = "budget"
                break
            stopped = await step.run(f"stop_check_{i}", self.check_stops, text)
            if stopped:
                stop_reason = f"stop_condition:{stopped}"
                break
        result = AgentResult(
            agent_id=agent.id,
            execution_id=self.ctx.execution_id,
            result=output if output is not None else text,
            text=text,
            steps=self.steps,
            tool_calls=self.tool_calls,
            usage=self.usage,
            cost=agent.cost_of(self.usage),
            stop_reason=stop_reason,
            session_id=self.session_id,
        )
        if self.session_id:
            await self.save_memory()
        await self.hook("on_end", 0, {"stop_reason": stop_reason})
        await self.emit(0, "done", {"stop_reason": stop_reason})
        return result

    def add(self, *messages: Message) -> None:
        self.messages += messages
        self.new_messages += messages

    def request(self) -> LLMRequest:
        agent = self.agent
        return LLMRequest(
            messages=list(self.messages),
            tools=[t.spec() for t in agent.tools],
            temperature=agent.temperature,
            max_output_tokens=agent.max_output_tokens,
            response_schema=agent.output_schema.model_json_schema()
            if agent.output_schema
            else None,
            response_schema_name=agent.output_schema.__name__
            if agent.output_schema
            else "response",
        )

    async def after_step(self, i: int) -> None:
        await self.emit(i, "step_end", {"step": i})
        await self.hook("on_agent_step_end", i, {"text": self.steps[-1].text})

    def over_budget(self) -> bool:
        budget = self.agent.budget
        if budget is None:
            return False
        if budget.max_tokens is not None and self.usage.total_tokens >= budget.max_tokens:
            return True
        cost = self.agent.cost_of(self.usage)
        return budget.max_cost is not None and cost is not None and cost >= budget.max_cost

    # the LLM call ----------------------------------------------------------------------
    async def call_llm(self, request: LLMRequest) -> LLMResponse:
        if not self.payload.stream:
            return await self.provider.complete(request)
        chunks = _ChunkPublisher(self.ctx)
        final: LLMResponse | None = None
        async for item in self.provider.stream(request):
            if isinstance(item, StreamChunk):
                await chunks.add(item.text)
            else:
                final = item
        await chunks.flush()
        if final is None:
            raise PolosError(f"provider {self.provider.name} ended its stream without a response")
        return final

    # tools -------------------------------------------------------------------------------
    async def run_tools(self, i: int, response: LLMResponse) -> None:
        results: dict[str, ToolResult] = {}
        to_run: list[tuple[Any, Tool, dict[str, Any], Approval]] = []
        for call in response.tool_calls:
            tool = self.agent.tool_named(call.name)
            if tool is None:
                results[call.id] = self.tool_error(i, call, f"there is no tool named {call.name!r}")
                continue
            problem = tool.check_arguments(call.arguments)
            if problem is not None:
                results[call.id] = self.tool_error(i, call, problem)
                continue
            arguments: dict[str, Any] = call.arguments
            approval: Approval = "not_needed"
            if tool.approval == "always":
                arguments, approval, refusal = await self.ask_approval(i, call, tool)
                if refusal is not None:
                    results[call.id] = self.tool_error(i, call, refusal, approval="rejected")
                    continue
            to_run.append((call, tool, arguments, approval))
        for call, tool, arguments, _ in to_run:
            await self.hook("on_tool_start", i, {"tool": tool.id, "arguments": arguments}, call.id)
            await self.emit(
                i,
                "tool_start",
                {"tool": tool.id, "tool_call_id": call.id, "arguments": arguments},
                call.id,
            )
        outcomes = (
            await self.ctx.step.batch_invoke_and_wait(
                f"tools_{i}",
                [
                    BatchWorkflowInput(id=tool.id, payload=arguments)
                    for _, tool, arguments, _ in to_run
                ],
            )
            if to_run
            else []
        )
        for (call, tool, arguments, approval), outcome in zip(to_run, outcomes, strict=True):
            content = (
                _tool_content(outcome.result) if outcome.success else _error_text(outcome.error)
            )
            results[call.id] = ToolResult(
                tool_call_id=call.id, name=tool.id, content=content, is_error=not outcome.success
            )
            self.tool_calls.append(
                ToolCallRecord(
                    step=i,
                    tool_call_id=call.id,
                    name=tool.id,
                    arguments=arguments,
                    result=content,
                    is_error=not outcome.success,
                    execution_id=outcome.execution_id,
                    approval=approval,
                )
            )
            await self.hook("on_tool_end", i, {"tool": tool.id, "result": content}, call.id)
            await self.emit(
                i,
                "tool_end",
                {"tool": tool.id, "tool_call_id": call.id, "result": content},
                call.id,
            )
        self.add(Message.tool(*[results[c.id] for c in response.tool_calls]))

    def tool_error(
        self, i: int, call: Any, message: str, approval: str = "not_needed"
    ) -> ToolResult:
        self.tool_calls.append(
            ToolCallRecord(
                step=i,
                tool_call_id=call.id,
                name=call.name,
                arguments=call.arguments,
                result=message,
                is_error=True,
                approval=approval,  # type: ignore[arg-type]
            )
        )
        return ToolResult(tool_call_id=call.id, name=call.name, content=message, is_error=True)

    async def ask_approval(
        self, i: int, call: Any, tool: Tool
    ) -> tuple[dict[str, Any], Approval, str | None]:
        """Suspend for a human: approve, reject (the model is told) or edit the arguments."""
        decision = await self.ctx.step.suspend(
            f"approve_{i}_{call.id}",
            data={
                "agent_id": self.agent.id,
                "tool": tool.id,
                "tool_call_id": call.id,
                "arguments": call.arguments,
            },
        )
        answer = decision.data if isinstance(decision.data, dict) else {}
        if not answer.get("approved"):
            reason = answer.get("reason") or "no reason given"
            return call.arguments, "rejected", f"The user rejected this call of {tool.id}: {reason}"
        edited = answer.get("arguments")
        if edited is None:
            return call.arguments, "approved", None
        problem = tool.check_arguments(edited)
        if problem is not None:
            return call.arguments, "rejected", f"The user's edited arguments are invalid: {problem}"
        return edited, "edited", None

    # final answers: structured output and guardrails ------------------------------------
    async def judge_answer(
        self, i: int, text: str, output_retries: int, guardrail_retries: int
    ) -> str | None:
        """``None`` to accept ``text``; else feedback was added and the loop asks again."""
        agent = self.agent
        self.final_text = text
        if agent.output_schema is not None:
            problem = _schema_problem(agent.output_schema, text)
            if problem is not None:
                if output_retries >= agent.output_retries:
                    raise AgentError(
                        f"agent {agent.id}: the answer never matched {agent.output_schema.__name__}: {problem}"
                    )
                self.add(
                    Message.user(
                        f"Your answer does not match the required JSON schema: {problem}. "
                        "Answer again with only the JSON object."
                    )
                )
                return "schema"
        for j, rail in enumerate(agent.guardrails):
            verdict: GuardrailResult = await self.ctx.step.run(
                f"guardrail_{i}_{j}", self.check_guardrail, rail, self.final_text
            )
            if not verdict.passed:
                if guardrail_retries >= agent.guardrail_max_retries:
                    raise AgentError(f"agent {agent.id}: guardrail failed: {verdict.message}")
                self.add(
                    Message.user(f"Your answer was rejected: {verdict.message}. Please revise it.")
                )
                return "guardrail"
            if verdict.replacement is not None:
                self.final_text = verdict.replacement
        return None

    async def check_guardrail(self, rail: Any, text: str) -> GuardrailResult:
        if isinstance(rail, str):
            return await _judge_with_llm(self.provider, rail, text)
        output = self.parse_output(text) if self.agent.output_schema else text
        result: GuardrailResult = await rail(GuardrailContext(self.agent.id, text, output))
        return result

    def parse_output(self, text: str) -> Any:
        schema = self.agent.output_schema
        return schema.model_validate_json(_strip_fences(text)) if schema is not None else None

    async def check_stops(self, text: str) -> str | None:
        context = StopContext(
            self.agent.id, list(self.steps), list(self.tool_calls), self.usage.total_tokens, text
        )
        for condition in self.agent.stop_conditions:
            if await condition(context):
                return condition.name
        return None

    # hooks, events, memory ------------------------------------------------------------------
    async def hook(self, event: str, i: int, data: dict[str, Any], tag: str = "") -> None:
        chosen = self.agent.hooks.get(event)
        if chosen is None:
            return
        context = HookContext(self.agent.id, self.ctx.execution_id, event, data)
        outcome: HookResult = await self.ctx.step.run(
            f"hook_{event}_{i}_{tag}" if tag else f"hook_{event}_{i}", chosen, context
        )
        if not outcome.proceed:
            raise AgentError(
                f"agent {self.agent.id}: hook {event} stopped the run: {outcome.message}"
            )

    async def emit(self, i: int, kind: str, data: dict[str, Any], tag: str = "") -> None:
        """A step or tool event on the run's topic (durable: published once), when streaming."""
        if self.payload.stream:
            key = f"event_{kind}_{i}_{tag}" if tag else f"event_{kind}_{i}"
            await self.ctx.step.publish_event(key, self.ctx.topic, data, event_type=kind)

    async def save_memory(self) -> None:
        step, topic = self.ctx.step, session_topic(self.session_id or "")
        saved = {
            "messages": [m for m in self.new_messages if m.role != "system"],
            "usage": self.usage,
        }
        await step.publish_event("memory_save", topic, saved, event_type=MESSAGES)
        config = self.agent.memory
        since = self.memory.since_compaction + len(saved["messages"])  # type: ignore[arg-type]
        if since <= config.max_messages:
            return
        history = [
            m for m in self.messages if m.role != "system" or m.content.startswith("Summary of")
        ]
        cut = max(0, len(history) - config.keep_recent)
        while cut < len(history) and history[cut].role == "tool":
            cut += 1  # never keep tool results without the call they answer
        summary: LLMResponse = await step.run(
            "memory_summarize",
            self.provider.complete,
            LLMRequest(messages=summary_prompt(history[:cut])),
        )
        await step.publish_event(
            "memory_compact",
            topic,
            {"summary": summary.text, "kept": history[cut:], "usage": summary.usage},
            event_type=COMPACTION,
        )


async def _load_memory(store: Any, session_id: str) -> SessionMemory:
    return await load_session(store, session_id)


class _ChunkPublisher:
    """Text chunks go to the run's topic, a few at a time: events, not journal rows."""

    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx, self.pending, self.last = ctx, "", time.monotonic()

    async def add(self, text: str) -> None:
        self.pending += text
        if time.monotonic() - self.last >= _CHUNK_FLUSH_SECONDS:
            await self.flush()

    async def flush(self) -> None:
        if self.pending:
            run = self.ctx._run
            event = NewEvent(
                str(uuid.uuid4()),
                self.ctx.topic,
                "text_delta",
                serialization.dumps({"text": self.pending}),
                run.clock.now(),
            )
            await run.store.publish_events([event], run.clock.now())
            self.pending = ""
        self.last = time.monotonic()
        await asyncio.sleep(0)


async def _judge_with_llm(provider: Provider, rule: str, text: str) -> GuardrailResult:
    verdict = await provider.complete(
        LLMRequest(
            messages=[
                Message.system(
                    "You check answers against a rule. Reply exactly PASS, or FAIL: <reason>."
                ),
                Message.user(f"Rule: {rule}\n\nAnswer to check:\n{text}"),
            ]
        )
    )
    reply = verdict.text.strip()
    if reply.upper().startswith("PASS"):
        return GuardrailResult.continue_with()
    return GuardrailResult.fail(reply.partition(":")[2].strip() or reply or f"violates: {rule}")


def _schema_problem(schema: type[BaseModel], text: str) -> str | None:
    try:
        schema.model_validate_json(_strip_fences(text))
    except ValidationError as exc:
        return str(exc)
    return None


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()


def _input_messages(value: str | list[Message]) -> list[Message]:
    return [Message.user(value)] if isinstance(value, str) else list(value)


def _input_text(value: str | list[Message]) -> str:
    return value if isinstance(value, str) else "\n".join(m.content for m in value)


def _tool_content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _error_text(error: dict[str, Any] | None) -> str:
    info = error or {}
    return f"The tool failed: {info.get('type', 'Error')}: {info.get('message', '')}"
