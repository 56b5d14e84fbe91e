"""An agent run as a conversation: what the model was told, what it answered, which
tools it called with which arguments and what they returned, and the guardrail,
stop and approval decisions between, with tokens and cost per call.

Read from the run's recorded steps (the agent loop records each LLM call as step
``llm_<n>`` with the provider's response, its tool calls as the children step
``tools_<n>``, guardrails as ``<n>.guardrail...``, stop checks as ``stop_check_<n>``,
tool approvals as the suspend ``approve_<n>_<call id>``) and, once it finished,
from its result. A Polos SDK agent records its LLM calls as ``llm_generate:<n>``
and its tool batches as ``execute_tools:step_<n>``; they read the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ...engine import definition as registry
from ...store import ExecutionRow, StepRow
from .timeline import Bar
from .values import plain

_LLM = re.compile(r"^llm_(\d+)(?:_retry(\d+))?$")
_TOOLS = re.compile(r"^tools_(\d+)$")
# A Polos SDK agent's steps (polos-sdk 0.1.15): its LLM calls and tool batches.
_SDK_LLM = re.compile(r"^llm_generate:(\d+)$")
_SDK_TOOLS = re.compile(r"^execute_tools:step_(\d+)$")
_STOP = re.compile(r"^stop_check_(\d+)$")
_APPROVE = re.compile(r"^approve_(\d+)_(.+)$")
_NUMBERED = re.compile(r"^(\d+)\.(guardrail|hook)\.(.+)$")
_GUARDRAIL_RETRY = re.compile(r"^\d+\.guardrail\.retry(\d+)\.")


@dataclass
class ToolUse:
    call_id: str
    name: str
    arguments: Any
    #: ``completed``, ``failed``, ``running`` (its run is not finished) or ``not run``.
    status: str = "running"
    result: Any = None
    error: Any = None
    execution_id: str | None = None
    approval: Any = None


@dataclass
class Decision:
    kind: str  # guardrail, hook, stop, approval
    key: str
    output: Any
    error: Any = None


@dataclass
class LlmCall:
    number: int
    key: str
    #: 0 for the first answer of this turn; n for the n-th re-ask after a guardrail refusal.
    retry: int
    model: str | None
    text: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float | None
    seconds: float | None
    tool_calls: list[ToolUse] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    error: Any = None
    #: A guardrail sent this answer back; the model was asked again.
    refused: bool = False


@dataclass
class Conversation:
    agent_id: str
    prompt: list[tuple[str, str]]
    calls: list[LlmCall]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float | None
    stop_reason: str | None
    answer: Any


def is_agent_run(steps: list[StepRow]) -> bool:
    return any(_LLM.match(s.step_key) or _SDK_LLM.match(s.step_key) for s in steps)


def _sdk_call(out: dict[str, Any]) -> dict[str, Any]:
    """A Polos SDK agent's LLM step output in the fields of ours: ``content`` is the
    text, ``stop_reason`` the finish reason, and each tool call names its function."""
    calls = []
    for tc in out.get("tool_calls") or []:
        function = tc.get("function") if isinstance(tc, dict) else None
        if isinstance(function, dict):
            calls.append(
                {
                    "id": tc.get("call_id") or tc.get("id"),
                    "name": function.get("name"),
                    "raw_arguments": function.get("arguments"),
                }
            )
    return {
        **out,
        "text": out.get("content") or "",
        "finish_reason": out.get("stop_reason"),
        "tool_calls": calls,
    }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "\n".join(str(p) for p in parts if p)
    return json.dumps(content, ensure_ascii=False, default=str)


def _prompt(payload: Any) -> list[tuple[str, str]]:
    """The messages the run was started with, as (role, text)."""
    given = payload.get("input") if isinstance(payload, dict) else payload
    if isinstance(given, str):
        return [("user", given)]
    if isinstance(given, list):
        out = []
        for m in given:
            if isinstance(m, dict):
                out.append((str(m.get("role", "user")), _text(m.get("content"))))
        return out
    return [("user", _text(given))] if given is not None else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _cost_of(agent: Any, usage: dict[str, Any]) -> float | None:
    """A call's cost, when the agent is defined in this process with prices."""
    prices = getattr(agent, "cost_per_million_tokens", None)
    if not isinstance(prices, tuple) or len(prices) != 2:
        return None
    per_input, per_output = prices
    inputs, outputs = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    return float((inputs * per_input + outputs * per_output) / 1_000_000)


def conversation(
    row: ExecutionRow,
    steps: list[StepRow],
    bars: dict[str, Bar],
    children: dict[str, ExecutionRow],
    now: float,
) -> Conversation:
    """``row``'s conversation; ``bars`` are its timeline's bars by key, ``children``
    the rows of the runs it started, by id."""
    agent = registry.lookup(row.workflow_id)
    result = plain(row.result)
    result = result if isinstance(result, dict) else {}
    recorded_tools = {
        str(t.get("tool_call_id")): t
        for t in result.get("tool_calls") or []
        if isinstance(t, dict) and t.get("tool_call_id")
    }
    calls: list[LlmCall] = []
    by_number: dict[int, LlmCall] = {}
    approvals: dict[str, Any] = {}
    pending_decisions: dict[int, list[Decision]] = {}
    outcomes: dict[int, list[dict[str, Any]]] = {}
    for step in sorted(steps, key=lambda s: s.created_at):
        key = step.step_key
        bar = bars.get(key)
        sdk = _SDK_LLM.match(key)
        if (m := _LLM.match(key) or sdk) is not None:
            out = plain(step.output)
            out = out if isinstance(out, dict) else {}
            if sdk is not None:
                out = _sdk_call(out)
            usage = out.get("usage") if isinstance(out.get("usage"), dict) else {}
            assert isinstance(usage, dict)
            call = LlmCall(
                number=int(m.group(1)),
                key=key,
                retry=int(m.group(2) or 0) if sdk is None else 0,
                model=out.get("model"),
                text=str(out.get("text") or ""),
                finish_reason=out.get("finish_reason"),
                input_tokens=_int(usage.get("input_tokens")),
                output_tokens=_int(usage.get("output_tokens")),
                total_tokens=_int(usage.get("total_tokens")),
                cost=_cost_of(agent, usage),
                seconds=bar.duration(now) if bar is not None else None,
                error=bar.error if bar is not None else None,
            )
            for tc in out.get("tool_calls") or []:
                if isinstance(tc, dict):
                    call.tool_calls.append(
                        ToolUse(
                            call_id=str(tc.get("id") or ""),
                            name=str(tc.get("name") or ""),
                            arguments=tc.get("arguments")
                            if tc.get("arguments") is not None
                            else _arguments(tc.get("raw_arguments")),
                        )
                    )
            calls.append(call)
            by_number[call.number] = call
        elif (m := _TOOLS.match(key) or _SDK_TOOLS.match(key)) is not None:
            out = plain(step.output)
            outcomes[int(m.group(1))] = [o for o in out or [] if isinstance(o, dict)]
        elif (m := _STOP.match(key)) is not None:
            pending_decisions.setdefault(int(m.group(1)), []).append(
                Decision("stop", key, plain(step.output), bar.error if bar else None)
            )
        elif (m := _APPROVE.match(key)) is not None:
            approvals[m.group(2)] = plain(step.output)
        elif (m := _NUMBERED.match(key)) is not None:
            pending_decisions.setdefault(int(m.group(1)), []).append(
                Decision(m.group(2), key, plain(step.output), bar.error if bar else None)
            )
    by_attempt = {(c.number, c.retry): c for c in calls}
    for number, decisions in pending_decisions.items():
        for decision in decisions:
            # A guardrail judges one answer: the first (``<n>.guardrail.<rail>``) or a
            # re-asked one (``<n>.guardrail.retry<k>.<rail>``); the rest follow the last.
            asked = _GUARDRAIL_RETRY.match(decision.key)
            retry = int(asked.group(1)) if asked else 0
            target = by_attempt.get((number, retry)) if decision.kind == "guardrail" else None
            target = target or by_number.get(number)
            if target is not None:
                target.decisions.append(decision)
    for number, accepted in by_number.items():
        _attach_tools(accepted, outcomes.get(number), recorded_tools, approvals, children)
    for refused in calls:
        if by_number.get(refused.number) is not refused:  # an answer a guardrail sent back
            refused.refused = True
            for use in refused.tool_calls:
                use.status = "not run"
    usage = result.get("usage") if isinstance(result.get("usage"), dict) else None
    cost = result.get("cost")
    if usage is not None:
        totals = (
            _int(usage.get("input_tokens")),
            _int(usage.get("output_tokens")),
            _int(usage.get("total_tokens")),
        )
    else:
        totals = (
            sum(c.input_tokens for c in calls),
            sum(c.output_tokens for c in calls),
            sum(c.total_tokens for c in calls),
        )
    if not isinstance(cost, int | float):
        known = [c.cost for c in calls if c.cost is not None]
        cost = sum(known) if known and len(known) == len(calls) else None
    return Conversation(
        agent_id=row.workflow_id,
        prompt=_prompt(plain(row.payload)),
        calls=calls,
        input_tokens=totals[0],
        output_tokens=totals[1],
        total_tokens=totals[2],
        cost=float(cost) if cost is not None else None,
        stop_reason=result.get("stop_reason"),
        answer=result.get("result"),
    )


def _attach_tools(
    call: LlmCall,
    outcomes: list[dict[str, Any]] | None,
    recorded: dict[str, dict[str, Any]],
    approvals: dict[str, Any],
    children: dict[str, ExecutionRow],
) -> None:
    """Each tool call's result: from the finished agent's record, else from the run it started."""
    unused = list(outcomes or [])
    for use in call.tool_calls:
        use.approval = approvals.get(use.call_id)
        done = recorded.get(use.call_id)
        if done is not None:
            use.arguments = done.get("arguments", use.arguments)
            use.execution_id = done.get("execution_id")
            use.status = "failed" if done.get("is_error") else "completed"
            if done.get("is_error"):
                use.error = done.get("result")
            else:
                use.result = _arguments(done.get("result"))
            if use.execution_id is None:
                use.status = "not run" if done.get("is_error") else use.status
            continue
        outcome = next((o for o in unused if o.get("workflow_id") == use.name), None)
        if outcome is not None:
            unused.remove(outcome)
            use.execution_id = outcome.get("execution_id")
            use.status = "completed" if outcome.get("success") else "failed"
            use.result, use.error = outcome.get("result"), outcome.get("error")
            continue
        child = next(
            (
                c
                for c in children.values()
                if c.step_key == f"tools_{call.number}" and c.workflow_id == use.name
            ),
            None,
        )
        if child is not None:
            use.execution_id, use.status = child.id, child.status
