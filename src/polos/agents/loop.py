"""The agent loop: the body of every agent's workflow.

Each LLM call is a step (its response and token usage recorded); each hook,
guardrail check and stop-condition check is a step; the tool calls of one
turn run as durable child workflows in parallel. A crash anywhere resumes
without repeating a recorded LLM call or tool call.

When the run streams (payload ``"streaming": True``), text chunks and tool
calls go to the run tree's topic as Polos publishes them (``stream_start``,
``text_delta`` with ``content``, ``tool_call`` with ``tool_call``). With
guardrails, nothing is streamed before they passed: the checked text is
published once, as one ``text_delta``, then the checked tool calls.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from .. import serialization
from ..engine.context import WorkflowContext
from ..engine.run import current_run
from ..observability import genai
from ..runtime.worker_resources import on_worker_stop
from ..store.records import NewEvent
from ..types import BatchWorkflowInput
from .context import AgentContext
from .errors import AgentError, HookFailedError
from .guardrails import (
    VERDICT_NAME,
    VERDICT_SCHEMA,
    GuardrailContext,
    GuardrailResult,
    judge_prompt,
    read_verdict,
    run_guardrails,
)
from .hooks import HookContext, HookResult, merged, run_hooks
from .memory import COMPACTION, MESSAGES, SessionMemory, load_session, session_topic, summary_prompt
from .providers import types as llm
from .providers._wire_log import WireLog, attach
from .providers.base import Provider
from .providers.types import LLMRequest, LLMResponse, Message, StreamChunk, Usage
from .results import (
    AgentConfig,
    AgentInput,
    AgentResult,
    Step,
    ToolCall,
    ToolCallRecord,
    ToolResult,
)
from .stop_conditions import StopConditionContext, condition_name

if TYPE_CHECKING:
    from .agent import Agent
    from .tools import Tool

__all__ = ["AgentError", "run_agent"]

_CHUNK_FLUSH_SECONDS = 0.03
#: An LLM call has one retry budget: the provider's RetryPolicy (rate limits,
#: 5xx and network errors, Retry-After honoured, jittered). Retrying the step
#: too would multiply it: a provider outage cost up to 8 calls per LLM step.
LLM_STEP_RETRIES = 0
Approval = Literal["not_needed", "approved", "rejected", "edited"]
#: An LLM step's backoff (unused while LLM_STEP_RETRIES is 0): ``ctx.step.run``'s defaults.
_LLM_BASE_DELAY, _LLM_MAX_DELAY = 1.0, 10.0
#: Where a response keeps its assistant message (not a field: pydantic ignores it).
_MESSAGE_KEY = "_polos_message"
#: ``provider_kwargs`` the request has fields for; the others are sent as they are.
_REQUEST_FIELDS = {"temperature", "top_p", "max_tokens", "max_output_tokens"}


async def run_agent(agent: Agent, ctx: WorkflowContext, payload: AgentInput) -> AgentResult:
    provider = agent.llm_provider()  # a configuration error fails the run before any step
    _close_with_worker(ctx._run.worker_id, provider)
    loop = _Loop(agent, AgentContext(ctx._run, agent), payload, provider)
    return await loop.run()


#: (worker id, provider) pairs whose HTTP connections close when that worker stops.
_closing: set[tuple[str, int]] = set()


def _close_with_worker(worker_id: str, provider: Provider) -> None:
    """Close ``provider``'s connections in this loop when the worker stops (an
    aiohttp session left open is reported as a leak when it is collected)."""
    key = (worker_id, id(provider))
    if key in _closing:
        return
    _closing.add(key)

    async def close() -> None:
        _closing.discard(key)
        await provider.aclose()

    on_worker_stop(worker_id, close)


class _Loop:
    def __init__(self, agent: Agent, ctx: AgentContext, payload: AgentInput, provider: Provider):
        self.agent, self.ctx, self.payload, self.provider = agent, ctx, payload, provider
        self.streaming = payload.streaming or agent.stream_to_workflow
        self.config: AgentConfig = agent.agent_config(payload.provider_kwargs or None)
        self.session_id = ctx.session_id
        self.messages: list[Message] = []
        self.new_messages: list[Message] = []
        self.steps: list[Step] = []
        self.tool_calls: list[ToolCallRecord] = []
        self.tool_results: list[ToolResult] = []
        self.usage = Usage()
        self.memory = SessionMemory()
        #: ``agent.tool_named`` as a dict: looked up for every tool call of every
        #: turn, again on each replay.
        self.tools_by_id: dict[str, Tool] = {}
        for known in agent.tools:
            self.tools_by_id.setdefault(known.id, known)
        #: The conversation's wire form, extended call by call (the loop only appends).
        self.wire_log = WireLog()
        self.request_base: LLMRequest | None = None

    # the loop ------------------------------------------------------------------------
    async def run(self) -> AgentResult:
        agent, step = self.agent, self.ctx.step
        payload = self.payload_dict()
        if agent.on_start:
            outcome = await self.hooks("on_start", "on_start", agent.on_start, payload, None)
            if outcome.modified_payload is not None:
                payload = outcome.modified_payload
                self.payload = AgentInput.model_validate({**self.payload.model_dump(), **payload})
        if agent.system_prompt:
            self.messages.append(Message.system(agent.system_prompt))
        if self.session_id:
            self.memory = await step.run(
                "memory_load", _load_memory, self.ctx._run.store, self.session_id
            )
            self.messages += self.memory.messages
        self.add(*_input_messages(self.payload.input))
        limit = agent.step_limit()
        output_retries, i = 0, 0
        text, output, stop_reason = "", None, "max_steps"
        while limit is None or i < limit:
            i += 1
            if agent.on_agent_step_start:
                outcome = await self.hooks(
                    "on_agent_step_start",
                    f"{i}.hook.on_agent_step_start",
                    agent.on_agent_step_start,
                    {"step": i, "messages": self.dumped_messages()},
                    None,
                )
                changed = (outcome.modified_payload or {}).get("messages")
                if changed is not None:
                    self.messages = [Message.model_validate(m) for m in changed]
            response = await self.answer(i)
            self.add(_assistant_message(response))
            text = response.text
            record = Step(
                step=i,
                content=response.text or None,
                tool_calls=[ToolCall.of(c) for c in response.tool_calls],
                usage=response.usage.model_copy(),  # hooks see it; the response is shared
                finish_reason=response.finish_reason,
            )
            if response.tool_calls:
                record.tool_results = await self.run_tools(i, response)
            self.steps.append(record)
            if agent.on_agent_step_end:
                outcome = await self.hooks(
                    "on_agent_step_end",
                    f"{i}.hook.on_agent_step_end",
                    agent.on_agent_step_end,
                    {"step": i, "messages": self.dumped_messages()},
                    record,
                )
                if outcome.modified_output is not None:
                    self.steps[-1] = Step.model_validate(outcome.modified_output)
            if not response.tool_calls:
                problem = self.schema_problem(text)
                if problem is None:
                    output, stop_reason = self.parse_output(text), "final_answer"
                    break
                if output_retries >= agent.output_retries:
                    raise AgentError(
                        f"agent {agent.id}: the answer never matched "
                        f"{getattr(agent.output_schema, '__name__', 'the schema')}: {problem}"
                    )
                output_retries += 1
                self.add(
                    Message.user(
                        f"Your answer does not match the required JSON schema: {problem}. "
                        "Answer again with only the JSON object."
                    )
                )
            if self.over_budget():
                stop_reason = "budget"
                break
            if agent.stop_conditions:
                stopped = await step.run(f"stop_check_{i}", self.check_stops)
                if stopped:
                    stop_reason = f"stop_condition:{stopped}"
                    break
        result = AgentResult(
            agent_run_id=self.ctx.execution_id,
            result=output if output is not None else (text or None),
            result_schema=_schema_name(output),
            tool_results=self.tool_results,
            total_steps=i,
            usage=self.usage,
            agent_id=agent.id,
            text=text,
            steps=self.steps,
            tool_calls=self.tool_calls,
            cost=agent.cost_of(self.usage),
            stop_reason=stop_reason,
            session_id=self.session_id,
        )
        genai.agent_totals(
            current_run.get(),
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            llm_calls=i,
            stop_reason=stop_reason,
            cost=result.cost,
        )
        if self.session_id:
            await self.save_memory()
        if agent.on_end:
            outcome = await self.hooks("on_end", "on_end", agent.on_end, payload, result)
            if outcome.modified_output is not None:
                result = AgentResult.model_validate(merged(result, outcome.modified_output))
        return result

    def add(self, *messages: Message) -> None:
        self.messages += messages
        self.new_messages += messages

    def payload_dict(self) -> dict[str, Any]:
        value = self.payload.input
        return {
            "input": value if isinstance(value, str) else [m.model_dump() for m in value],
            "streaming": self.payload.streaming,
            "provider_kwargs": dict(self.payload.provider_kwargs),
        }

    def dumped_messages(self) -> list[dict[str, Any]]:
        return [m.model_dump(mode="json") for m in self.messages]

    def request(self) -> LLMRequest:
        if self.request_base is None:
            self.request_base = self.request_settings()
        # A shallow copy: the settings' parts (tools, schema) are shared and never changed.
        request = self.request_base.model_copy()
        # Set after validation: every message was validated when it was made, and
        # validating the whole conversation again on each call is O(N) per turn.
        request.messages = list(self.messages)
        attach(request, self.wire_log)
        return request

    def request_settings(self) -> LLMRequest:
        """Everything but the conversation: the same on every call of the run, so built
        once (the output schema's JSON schema alone took ~0.5 ms to build per call)."""
        agent, options = self.agent, dict(self.payload.provider_kwargs)
        max_tokens = options.get("max_output_tokens", options.get("max_tokens"))
        return LLMRequest(
            messages=[],
            tools=[t.spec() for t in agent.tools],
            temperature=options.get("temperature", agent.temperature),
            top_p=options.get("top_p"),
            max_output_tokens=max_tokens if max_tokens is not None else agent.max_output_tokens,
            response_schema=agent.output_schema.model_json_schema()
            if agent.output_schema
            else None,
            response_schema_name=agent.output_schema.__name__
            if agent.output_schema
            else "response",
            extra={k: v for k, v in options.items() if k not in _REQUEST_FIELDS},
        )

    def over_budget(self) -> bool:
        budget = self.agent.budget
        if budget is None:
            return False
        if budget.max_tokens is not None and self.usage.total_tokens >= budget.max_tokens:
            return True
        cost = self.agent.cost_of(self.usage)
        return budget.max_cost is not None and cost is not None and cost >= budget.max_cost

    # the LLM call, its guardrails, and what streams ---------------------------------------
    async def answer(self, i: int) -> LLMResponse:
        """Step ``i``'s answer, once every guardrail accepted it (rewrites applied)."""
        agent = self.agent
        guarded = bool(agent.guardrails)
        attempt = 0
        while True:
            key = f"llm_{i}" if attempt == 0 else f"llm_{i}_retry{attempt}"
            # call_llm builds the request itself: a replayed step never runs it,
            # and building it validates the whole conversation (O(N) per turn,
            # so O(N^2) per replay of an N-turn run). The response is shared
            # (decoded once per worker, not on every replay): the loop never
            # mutates it and hands user code copies of its parts.
            response: LLMResponse = await self.ctx._run.run_step(
                key,
                self.call_llm,
                (i, self.streaming and not guarded),
                {},
                LLM_STEP_RETRIES,
                _LLM_BASE_DELAY,
                _LLM_MAX_DELAY,
                shared_output=True,
                defer=None if guarded else self.tools_start_next,
            )
            self.usage = self.usage + response.usage
            if not guarded:
                return response
            verdict = await run_guardrails(
                self.ctx,
                f"{i}.guardrail" if attempt == 0 else f"{i}.guardrail.retry{attempt}",
                agent.guardrails,
                GuardrailContext(
                    content=response.text or None,
                    tool_calls=[ToolCall.of(c) for c in response.tool_calls] or None,
                    agent_workflow_id=agent.id,
                    agent_run_id=self.ctx.execution_id,
                    session_id=self.ctx.session_id,
                    user_id=self.ctx.user_id,
                    llm_config=self.config,
                    steps=list(self.steps),
                    output=self.try_parse(response) if agent.output_schema else None,
                ),
                self.judge,
            )
            if verdict.failed:
                reason = verdict.error_message or "Guardrail validation failed"
                if attempt >= agent.guardrail_max_retries:
                    raise AgentError(
                        f"Guardrail failed after {agent.guardrail_max_retries} retries. "
                        f"Last error: {reason}"
                    )
                # The rejected answer and the reason go to the model, never to the session.
                self.messages += [
                    response.to_message(),
                    Message.user(
                        f"Previous attempt failed guardrail validation: {reason}. "
                        "Please revise your response accordingly."
                    ),
                ]
                attempt += 1
                continue
            checked = _apply(response, verdict)
            if self.streaming:
                await self.publish_checked(i, checked)
            return checked

    def tools_start_next(self, response: LLMResponse) -> bool:
        """Whether the tool children of ``response`` start right after its LLM step,
        with no user code in between (no guardrail, ``on_tool_start`` hook nor
        approval): then the step's record commits with that start, one write
        fewer per tool call. Any other path writes it first (see ``run_step``)."""
        if not response.tool_calls or self.agent.on_tool_start:
            return False
        tools = self.tools_by_id
        return all(
            (tool := tools.get(call.name)) is None or tool.approval != "always"
            for call in response.tool_calls
        )

    async def call_llm(self, i: int, stream: bool) -> LLMResponse:
        request = self.request()
        with genai.llm_call(
            current_run.get(),
            provider=self.provider.name,
            model=request.model or self.provider.model,
            request={
                "temperature": request.temperature,
                "max_tokens": request.max_output_tokens,
                "top_p": request.top_p,
            },
        ) as traced:
            response = await self.request_llm(request, i, stream)
            if traced is not None:
                traced.answered(
                    model=response.model,
                    response_id=response.id,
                    finish_reason=response.finish_reason,
                    input_tokens=response.usage.input_tokens,
                    output_tokens=response.usage.output_tokens,
                    tool_calls=[call.name for call in response.tool_calls],
                )
            return response

    async def request_llm(self, request: LLMRequest, i: int, stream: bool) -> LLMResponse:
        if not stream:
            return await self.provider.complete(request)
        chunks = _ChunkPublisher(self.ctx, i)
        final: LLMResponse | None = None
        async for item in self.provider.stream(request):
            if isinstance(item, StreamChunk):
                await chunks.add(item.text)
            else:
                final = item
        if final is None:
            raise AgentError(f"provider {self.provider.name} ended its stream without a response")
        await chunks.finish(final.tool_calls)
        return final

    async def publish_checked(self, i: int, response: LLMResponse) -> None:
        """What a streaming client gets once the guardrails passed: the text, then the calls."""
        step, topic = self.ctx.step, self.ctx.topic
        meta = _metadata(self.ctx)
        if response.text:
            await step.publish_event(
                f"stream_{i}_text",
                topic,
                _chunk(i, 1, content=response.text, meta=meta),
                "text_delta",
            )
        for j, call in enumerate(response.tool_calls):
            await step.publish_event(
                f"stream_{i}_tool_{j}",
                topic,
                _chunk(i, j + 2, tool_call=ToolCall.of(call).model_dump(), meta=meta),
                "tool_call",
            )

    async def judge(self, key: str, rule: str, content: str) -> GuardrailResult:
        """A string guardrail, judged by the agent's own model (structured output)."""
        response: LLMResponse = await self.ctx.step.run(
            key,
            self.provider.complete,
            LLMRequest(
                messages=[Message.user(judge_prompt(rule, content))],
                response_schema=VERDICT_SCHEMA,
                response_schema_name=VERDICT_NAME,
            ),
            max_retries=LLM_STEP_RETRIES,
        )
        self.usage = self.usage + response.usage
        return read_verdict(response.text, rule)

    # tools -------------------------------------------------------------------------------
    async def run_tools(self, i: int, response: LLMResponse) -> list[ToolResult]:
        agent = self.agent
        results: dict[str, llm.ToolResult] = {}
        recorded: list[ToolResult] = []
        to_run: list[tuple[llm.ToolCall, Tool, dict[str, Any], Approval]] = []
        for idx, call in enumerate(response.tool_calls):
            tool = self.tools_by_id.get(call.name)
            if tool is None:
                results[call.id] = self.tool_error(i, call, f"there is no tool named {call.name!r}")
                continue
            arguments: dict[str, Any] = _own(call.arguments)  # the response is shared
            if agent.on_tool_start:
                started = await self.hooks(
                    "on_tool_start",
                    f"{i}.hook.on_tool_start.{idx}",
                    agent.on_tool_start,
                    dict(arguments),
                    None,
                    tool=tool.id,
                )
                arguments.update(started.modified_payload or {})
            problem = tool.check_arguments(arguments)
            if problem is not None:
                results[call.id] = self.tool_error(i, call, problem)
                continue
            approval: Approval = "not_needed"
            if tool.approval == "always":
                arguments, approval, refusal = await self.ask_approval(i, call, tool, arguments)
                if refusal is not None:
                    results[call.id] = self.tool_error(i, call, refusal, approval="rejected")
                    continue
            to_run.append((call, tool, arguments, approval))
        # The outcomes are shared on replay (decoded once per worker): each
        # result is copied before hooks, the run's result or user code see it.
        outcomes = (
            await self.ctx.step._start_and_wait(
                f"tools_{i}",
                [BatchWorkflowInput(id=tool.id, payload=args) for _, tool, args, _ in to_run],
                shared_results=True,
            )
            if to_run
            else []
        )
        for idx, ((call, tool, arguments, approval), outcome) in enumerate(
            zip(to_run, outcomes, strict=True)
        ):
            value = _own(outcome.result) if outcome.success else None
            error = None if outcome.success else _error_text(outcome.error)
            if agent.on_tool_end:
                hooked = await self.hooks(
                    "on_tool_end",
                    f"{i}.hook.on_tool_end.{idx}",
                    agent.on_tool_end,
                    dict(arguments),
                    value if outcome.success else error,
                    tool=tool.id,
                )
                if hooked.modified_output is not None:
                    value = merged(value if outcome.success else error, hooked.modified_output)
                    error = None
            content = _tool_content(value) if error is None else error
            results[call.id] = llm.ToolResult(
                tool_call_id=call.id, name=tool.id, content=content, is_error=error is not None
            )
            recorded.append(
                ToolResult(
                    tool_name=tool.id,
                    status="completed" if error is None else "failed",
                    result=value,
                    result_schema=_schema_name(value),
                    error=error,
                    tool_call_id=call.id,
                    tool_call_call_id=call.id,
                )
            )
            self.tool_calls.append(
                ToolCallRecord(
                    step=i,
                    tool_call_id=call.id,
                    name=tool.id,
                    arguments=arguments,
                    result=content,
                    is_error=error is not None,
                    execution_id=outcome.execution_id,
                    approval=approval,
                )
            )
        self.add(Message.tool(*[results[c.id] for c in response.tool_calls]))
        self.tool_results += recorded
        return recorded

    def tool_error(
        self, i: int, call: llm.ToolCall, message: str, approval: Approval = "not_needed"
    ) -> llm.ToolResult:
        self.tool_calls.append(
            ToolCallRecord(
                step=i,
                tool_call_id=call.id,
                name=call.name,
                arguments=_own(call.arguments),  # the response is shared
                result=message,
                is_error=True,
                approval=approval,
            )
        )
        return llm.ToolResult(tool_call_id=call.id, name=call.name, content=message, is_error=True)

    async def ask_approval(
        self, i: int, call: llm.ToolCall, tool: Tool, arguments: dict[str, Any]
    ) -> tuple[dict[str, Any], Approval, str | None]:
        """Suspend for a person: approve, reject (the model is told) or edit the arguments.

        The suspend's data carries Polos's approval form (``_form``,
        ``_source="tool_approval"``, ``_tool``) beside our own fields; the
        resume data is ``{"approved": bool, "feedback" or "reason": str,
        "arguments": {...}}`` (the last to edit the call).
        """
        decision = await self.ctx.step.suspend(
            f"approve_{i}_{call.id}",
            data={
                "agent_id": self.agent.id,
                "tool": tool.id,
                "tool_call_id": call.id,
                "arguments": arguments,
                "_form": {
                    "title": f"Approve tool: {tool.id}",
                    "description": f'The agent wants to use the "{tool.id}" tool.',
                    "fields": [
                        {
                            "key": "approved",
                            "type": "boolean",
                            "label": "Approve this tool call?",
                            "required": True,
                            "default": False,
                        },
                        {
                            "key": "feedback",
                            "type": "textarea",
                            "label": "Feedback for the agent (optional)",
                            "required": False,
                        },
                    ],
                    "context": {"tool": tool.id, "input": arguments},
                },
                "_source": "tool_approval",
                "_tool": tool.id,
            },
        )
        answer = decision.get("data")
        answer = answer if isinstance(answer, dict) else {}
        if answer.get("approved") is not True:
            reason = answer.get("feedback") or answer.get("reason") or "no reason given"
            return arguments, "rejected", f"The user rejected this call of {tool.id}: {reason}"
        edited = answer.get("arguments")
        if edited is None:
            return arguments, "approved", None
        problem = tool.check_arguments(edited)
        if problem is not None:
            return arguments, "rejected", f"The user's edited arguments are invalid: {problem}"
        return edited, "edited", None

    # hooks, structured output, stop conditions -----------------------------------------------
    async def hooks(
        self,
        point: str,
        key: str,
        chosen: list[Any],
        payload: Any,
        output: Any,
        tool: str | None = None,
    ) -> HookResult:
        """Run the hooks of one lifecycle point; a failure stops the run."""
        outcome = await run_hooks(
            self.ctx,
            key,
            chosen,
            HookContext(
                workflow_id=self.agent.id,
                session_id=self.ctx.session_id,
                user_id=self.ctx.user_id,
                agent_config=None if point in ("on_start", "on_end") else self.config,
                steps=list(self.steps),
                current_tool=tool,
                current_payload=payload,
                current_output=output,
                execution_id=self.ctx.execution_id,
                event=point,
            ),
        )
        if outcome.failed:
            raise HookFailedError(outcome.error_message or f"{point} hook failed", point)
        return outcome

    def schema_problem(self, text: str) -> str | None:
        schema = self.agent.output_schema
        if schema is None:
            return None
        try:
            schema.model_validate_json(_strip_fences(text))
        except ValidationError as exc:
            return str(exc)
        return None

    def parse_output(self, text: str) -> Any:
        schema = self.agent.output_schema
        return schema.model_validate_json(_strip_fences(text)) if schema is not None else None

    def try_parse(self, response: LLMResponse) -> Any:
        return None if self.schema_problem(response.text) else self.parse_output(response.text)

    async def check_stops(self) -> str | None:
        context = StopConditionContext(
            steps=list(self.steps), agent_id=self.agent.id, agent_run_id=self.ctx.execution_id
        )
        for condition in self.agent.stop_conditions:
            outcome = condition(context)
            if asyncio.iscoroutine(outcome) or isinstance(outcome, asyncio.Future):
                outcome = await outcome
            if outcome:
                return condition_name(condition)
        return None

    # memory -----------------------------------------------------------------------------------
    async def save_memory(self) -> None:
        step, topic = self.ctx.step, session_topic(self.session_id or "")
        saved = [m for m in self.new_messages if m.role != "system"]
        await step.publish_event(
            "memory_save", topic, {"messages": saved, "usage": self.usage}, event_type=MESSAGES
        )
        history = [
            m for m in self.messages if m.role != "system" or m.content.startswith("Summary of")
        ]
        since = history[-(self.memory.since_compaction + len(saved)) :]
        config = self.agent.memory
        if not config.needs_compaction(since):
            return
        cut = max(0, len(history) - config.keep_recent)
        while cut < len(history) and history[cut].role == "tool":
            cut += 1  # never keep tool results without the call they answer
        summary: LLMResponse = await step.run(
            "memory_summarize",
            self.provider.complete,
            LLMRequest(
                messages=summary_prompt(history[:cut]),
                max_output_tokens=config.max_summary_tokens,
            ),
            max_retries=LLM_STEP_RETRIES,
        )
        await step.publish_event(
            "memory_compact",
            topic,
            {"summary": summary.text, "kept": history[cut:], "usage": summary.usage},
            event_type=COMPACTION,
        )


async def _load_memory(store: Any, session_id: str) -> SessionMemory:
    return await load_session(store, session_id)


def _metadata(ctx: WorkflowContext) -> dict[str, Any]:
    return {"execution_id": ctx.execution_id, "workflow_id": ctx.workflow_id}


def _chunk(
    step: int,
    index: int,
    *,
    meta: dict[str, Any],
    content: str | None = None,
    tool_call: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of a streamed ``text_delta`` or ``tool_call`` event, as Polos shapes it."""
    return {
        "step": step,
        "chunk_index": index,
        "content": content,
        "tool_call": tool_call,
        "usage": None,
        "_metadata": meta,
    }


class _ChunkPublisher:
    """Streamed text goes to the run tree's topic a few chunks at a time: events, not
    journal rows. A ``stream_start`` comes first (a retried call starts again with one),
    the tool calls come last."""

    def __init__(self, ctx: WorkflowContext, step: int) -> None:
        self.ctx, self.step, self.meta = ctx, step, _metadata(ctx)
        self.pending, self.index, self.last = "", 0, time.monotonic()
        self.started = False

    async def add(self, text: str) -> None:
        self.pending += text
        if time.monotonic() - self.last >= _CHUNK_FLUSH_SECONDS:
            await self.flush()

    async def finish(self, calls: list[llm.ToolCall]) -> None:
        await self.flush([ToolCall.of(c).model_dump() for c in calls])

    async def flush(self, calls: list[dict[str, Any]] | None = None) -> None:
        events: list[tuple[str, dict[str, Any]]] = []
        if not self.started:
            self.started = True
            events.append(("stream_start", {"step": self.step, "_metadata": self.meta}))
        if self.pending:
            events.append(
                ("text_delta", _chunk(self.step, self.index, content=self.pending, meta=self.meta))
            )
            self.index += 1
            self.pending = ""
        for call in calls or []:
            events.append(
                ("tool_call", _chunk(self.step, self.index, tool_call=call, meta=self.meta))
            )
            self.index += 1
        if events:
            run = self.ctx._run
            now = run.clock.now()
            await run.store.publish_events(
                [
                    NewEvent(
                        str(uuid.uuid4()), self.ctx.topic, kind, serialization.dumps(data), now
                    )
                    for kind, data in events
                ],
                now,
            )
        self.last = time.monotonic()
        await asyncio.sleep(0)


def _apply(response: LLMResponse, verdict: GuardrailResult) -> LLMResponse:
    """The answer with the guardrails' rewrites."""
    update: dict[str, Any] = {}
    content = verdict.modified_content
    if content is not None and content != response.text:
        update["text"] = content if isinstance(content, str) else json.dumps(content)
    calls = verdict.modified_tool_calls
    if calls is not None:
        update["tool_calls"] = [c.to_llm() for c in calls]
    return response.model_copy(update=update) if update else response


_IMMUTABLE = (str, int, float, bool, type(None))


def _own(value: Any) -> Any:
    """A copy of a value taken from a shared replayed output that this run may
    hand to code that could change it (plain scalars need none; JSON data, the
    usual case, is copied without ``deepcopy``'s bookkeeping)."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {k: _own(v) for k, v in value.items()}
    if kind is list:
        return [_own(v) for v in value]
    return copy.deepcopy(value)


def _assistant_message(response: LLMResponse) -> Message:
    """The response's assistant message, made once per response object.

    A replayed response is shared across a run's resumes on a worker (see
    ``polos.engine.decoded_outputs``), and so is this message: it keeps the
    wire form each provider built for it, so the next live call does not
    convert every earlier turn's message again after each resume.
    """
    calls = response.tool_calls
    token = (response.text, calls, len(calls))
    # A copy (``model_copy`` with a guardrail's rewrite) carries the entry along:
    # it is used only while the fields it was made from are the same.
    kept: tuple[tuple[Any, ...], Message] | None = response.__dict__.get(_MESSAGE_KEY)
    if kept is not None and kept[0][1] is calls and kept[0] == token:
        return kept[1]
    message = response.to_message()
    response.__dict__[_MESSAGE_KEY] = (token, message)
    return message


def _schema_name(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return f"{type(value).__module__}.{type(value).__qualname__}"
    return None


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()


def _input_messages(value: str | list[Message]) -> list[Message]:
    return [Message.user(value)] if isinstance(value, str) else list(value)


def _tool_content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if type(value) is int:  # what json.dumps writes, without its encoder's set-up
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _error_text(error: dict[str, Any] | None) -> str:
    info = error or {}
    return f"The tool failed: {info.get('type', 'Error')}: {info.get('message', '')}"
