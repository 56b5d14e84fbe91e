"""Guardrails: checks of each model answer before anything acts on it.

A guardrail is ``fn(ctx, guardrail_ctx: GuardrailContext) -> GuardrailResult``
(sync or async; ``fn(guardrail_ctx)`` is accepted too), or a plain string:
a rule the model itself judges the answer against. Guardrails run in order
after every LLM call, before its tool calls run and before its text reaches
a streaming client, each as a durable step. ``continue_with(modified_content=...,
modified_tool_calls=[...])`` rewrites the answer (an empty list of tool calls
cancels them); ``fail("why")`` sends the reason back to the model for another
try, up to the agent's ``guardrail_max_retries``, then fails the run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, overload

from pydantic import BaseModel, Field

from ..engine.context import WorkflowContext
from ..engine.run import current_run
from ..errors import WorkflowDefinitionError
from ..observability import genai
from .hooks import HookAction, HookResult, callable_name, check_arity
from .results import AgentConfig, Step, ToolCall

F = TypeVar("F", bound=Callable[..., Any])

Guardrail = Callable[..., Any] | str
"""A guardrail function, or a rule (a string) for the model to judge."""

#: Asked of the model for a string guardrail: whether the answer keeps the rule.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"passed": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["passed", "reason"],
    "additionalProperties": False,
}
VERDICT_NAME = "GuardrailEvaluationResult"


class GuardrailContext(BaseModel):
    """What a guardrail sees: the model's answer and where it comes from."""

    content: Any = None
    tool_calls: list[ToolCall] | None = None
    agent_workflow_id: str | None = ""
    agent_run_id: str | None = ""
    session_id: str | None = None
    user_id: str | None = None
    llm_config: AgentConfig = Field(
        default_factory=lambda: AgentConfig(name="", provider="", model="")
    )
    steps: list[Step] = Field(default_factory=list)
    #: The answer parsed as the agent's ``output_schema``, when it has one and it parses (ours).
    output: Any = None

    @property
    def text(self) -> str:
        """``content`` as text (``""`` when there is none)."""
        if self.content is None:
            return ""
        return self.content if isinstance(self.content, str) else json.dumps(self.content)

    @property
    def agent_id(self) -> str:
        return self.agent_workflow_id or ""

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any) -> GuardrailContext:
        if isinstance(data, GuardrailContext):
            return data
        if isinstance(data, dict):
            return cls.model_validate(data)
        raise TypeError(f"cannot make a GuardrailContext from {type(data).__name__}")


class GuardrailResult(HookResult):
    """A guardrail's decision, with the rewrites it asks for."""

    modified_content: Any = None
    #: Replaces the answer's tool calls; ``[]`` cancels them all.
    modified_tool_calls: list[ToolCall] | None = None
    modified_llm_config: AgentConfig | None = None

    @classmethod
    def continue_with(cls, **modifications: Any) -> GuardrailResult:
        """Accept the answer, with ``modified_content=`` / ``modified_tool_calls=`` if given."""
        if "replacement" in modifications:  # the keyword of earlier versions
            modifications["modified_content"] = modifications.pop("replacement")
        return cls(action=HookAction.CONTINUE, **modifications)

    @classmethod
    def fail(cls, message: str) -> GuardrailResult:
        """Reject the answer; ``message`` is sent back to the model."""
        return cls(action=HookAction.FAIL, error_message=message)

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def message(self) -> str:
        return self.error_message or ""


@overload
def guardrail(func: F, /) -> F: ...


@overload
def guardrail(func: None = None, /) -> Callable[[F], F]: ...


def guardrail(func: F | None = None, /) -> F | Callable[[F], F]:
    """Mark ``fn(ctx, guardrail_ctx) -> GuardrailResult`` as a guardrail: ``@guardrail``
    or ``@guardrail()``. The function is returned as it is, after its signature was checked."""

    def check(f: F) -> F:
        check_arity(f, "guardrail", "(ctx: WorkflowContext, guardrail_ctx: GuardrailContext)")
        return f

    return check(func) if func is not None else check


def normalize_guardrails(value: Any, owner: str) -> list[Guardrail]:
    """``None``, one guardrail or a list of them, as a list; anything else fails now."""
    if value is None:
        return []
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, str):
            if not item.strip():
                raise WorkflowDefinitionError(f"{owner}: a string guardrail must not be empty")
            continue
        if not callable(item):
            raise WorkflowDefinitionError(
                f"{owner}: a guardrail is a @guardrail function or a string, got {item!r}"
            )
        check_arity(item, "guardrail", "(ctx: WorkflowContext, guardrail_ctx: GuardrailContext)")
    return items


Judge = Callable[[str, str, str], Awaitable[GuardrailResult]]
"""Judges a string guardrail: ``judge(step_key, rule, content)``."""


async def run_guardrails(
    ctx: WorkflowContext,
    key: str,
    guardrails: Sequence[Guardrail],
    guardrail_ctx: GuardrailContext,
    judge: Judge,
) -> GuardrailResult:
    """Run ``guardrails`` in order, each as the step ``<key>.<name>.<i>``.

    Each sees the answer as the ones before it left it. Returns the first
    failure, or a ``continue`` carrying the final content and tool calls.
    """
    content, calls = guardrail_ctx.content, guardrail_ctx.tool_calls
    config = guardrail_ctx.llm_config
    for i, rail in enumerate(guardrails):
        seen = guardrail_ctx.model_copy(
            update={"content": content, "tool_calls": calls, "llm_config": config}
        )
        if isinstance(rail, str):
            if not seen.text:
                continue  # nothing to judge (an answer made of tool calls only)
            step_key, name = f"{key}.rule.{i}", f"rule.{i}"
            with genai.guardrail(current_run.get(), step_key, name) as span:
                outcome: Any = await judge(step_key, rail, seen.text)
                _traced_verdict(span, outcome)
        else:
            name = callable_name(rail, i, "guardrail")
            step_key = f"{key}.{name}.{i}"
            with genai.guardrail(current_run.get(), step_key, name) as span:
                if check_arity(rail, "guardrail", "(ctx, guardrail_ctx)") == 1:
                    outcome = await ctx.step.run(step_key, rail, seen)
                else:
                    outcome = await ctx.step.run(step_key, rail, ctx, seen)
                _traced_verdict(span, outcome)
        if not isinstance(outcome, GuardrailResult):
            name = rail if isinstance(rail, str) else callable_name(rail, i, "guardrail")
            raise TypeError(
                f"guardrail {name!r} returned {type(outcome).__name__}; a guardrail returns a "
                "GuardrailResult"
            )
        if outcome.failed:
            return outcome
        if outcome.modified_content is not None:
            content = outcome.modified_content
        if outcome.modified_tool_calls is not None:
            calls = list(outcome.modified_tool_calls)
        if outcome.modified_llm_config is not None:
            config = outcome.modified_llm_config
    return GuardrailResult.continue_with(
        modified_content=content, modified_tool_calls=calls, modified_llm_config=config
    )


def _traced_verdict(span: Any, outcome: Any) -> None:
    """What the guardrail decided, on its span (if traced)."""
    if span is not None and isinstance(outcome, GuardrailResult):
        span.set_attribute("polos.guardrail.passed", outcome.passed)
        if outcome.failed and outcome.error_message:
            span.set_attribute("polos.guardrail.reason", str(outcome.error_message))


def judge_prompt(rule: str, content: str) -> str:
    return (
        f"{rule}\n\nEvaluate the following response against the rule above. Answer with a "
        'JSON object: {"passed": true or false, "reason": "why it fails, if it does"}.\n\n'
        f"Response to evaluate:\n{content}"
    )


def read_verdict(text: str, rule: str) -> GuardrailResult:
    """The judge's answer as a result: JSON ``{"passed", "reason"}``, or ``PASS`` / ``FAIL: why``."""
    reply = text.strip()
    try:
        verdict = json.loads(reply)
    except ValueError:
        verdict = None
    if isinstance(verdict, dict) and "passed" in verdict:
        if verdict.get("passed") is True:
            return GuardrailResult.continue_with()
        return GuardrailResult.fail(str(verdict.get("reason") or f"the answer breaks: {rule}"))
    if reply.upper().startswith("PASS"):
        return GuardrailResult.continue_with()
    reason = reply.partition(":")[2].strip() if reply.upper().startswith("FAIL") else reply
    return GuardrailResult.fail(reason or f"the answer breaks: {rule}")
