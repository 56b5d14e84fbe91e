"""What steers an agent loop: stop conditions, guardrails and hooks."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .results import AgentStep, ToolCallRecord

# --- stop conditions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StopContext:
    """What a stop condition sees after each step of the loop."""

    agent_id: str
    steps: Sequence[AgentStep]
    tool_calls: Sequence[ToolCallRecord]
    total_tokens: int
    text: str


StopFn = Callable[[StopContext], bool | Awaitable[bool]]


class StopCondition:
    def __init__(self, fn: StopFn, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "stop_condition")

    async def __call__(self, context: StopContext) -> bool:
        outcome = self.fn(context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return bool(outcome)


def stop_condition(fn: StopFn) -> StopCondition:
    """Decorate ``fn(context: StopContext) -> bool`` (sync or async) as a stop condition."""
    return StopCondition(fn)


class MaxStepsConfig(BaseModel):
    count: int = 10


class MaxTokensConfig(BaseModel):
    limit: int


class ExecutedToolConfig(BaseModel):
    tool_names: list[str]


class HasTextConfig(BaseModel):
    texts: list[str]


def max_steps(config: MaxStepsConfig) -> StopCondition:
    """Stop once the loop made ``count`` LLM calls."""
    return StopCondition(lambda c: len(c.steps) >= config.count, f"max_steps({config.count})")


def max_tokens(config: MaxTokensConfig) -> StopCondition:
    """Stop once the run used ``limit`` tokens or more."""
    return StopCondition(lambda c: c.total_tokens >= config.limit, f"max_tokens({config.limit})")


def executed_tool(config: ExecutedToolConfig) -> StopCondition:
    """Stop once any of ``tool_names`` has been called."""
    names = set(config.tool_names)
    return StopCondition(
        lambda c: any(t.name in names for t in c.tool_calls), f"executed_tool({sorted(names)})"
    )


def has_text(config: HasTextConfig) -> StopCondition:
    """Stop once the latest text contains any of ``texts``."""
    return StopCondition(
        lambda c: any(t in c.text for t in config.texts), f"has_text({config.texts})"
    )


# --- guardrails -------------------------------------------------------------------------


class GuardrailResult(BaseModel):
    passed: bool
    message: str = ""
    #: A replacement for the answer (``continue_with(text)``), if the guardrail rewrote it.
    replacement: str | None = None

    @classmethod
    def continue_with(cls, replacement: str | None = None) -> GuardrailResult:
        return cls(passed=True, replacement=replacement)

    @classmethod
    def fail(cls, message: str) -> GuardrailResult:
        return cls(passed=False, message=message)


@dataclass(frozen=True, slots=True)
class GuardrailContext:
    agent_id: str
    text: str
    output: Any


GuardrailFn = Callable[[GuardrailContext], GuardrailResult | Awaitable[GuardrailResult]]


class Guardrail:
    def __init__(self, fn: GuardrailFn, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "guardrail")

    async def __call__(self, context: GuardrailContext) -> GuardrailResult:
        outcome = self.fn(context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if not isinstance(outcome, GuardrailResult):
            raise TypeError(f"guardrail {self.name} must return a GuardrailResult, got {outcome!r}")
        return outcome


def guardrail(fn: GuardrailFn) -> Guardrail:
    """Decorate ``fn(context: GuardrailContext) -> GuardrailResult`` (sync or async)."""
    return Guardrail(fn)


# --- hooks ---------------------------------------------------------------------------------


class HookResult(BaseModel):
    """What a hook decides: carry on, or stop the run with an error."""

    proceed: bool = True
    message: str = ""

    @classmethod
    def continue_(cls) -> HookResult:
        return cls()

    @classmethod
    def fail(cls, message: str) -> HookResult:
        return cls(proceed=False, message=message)


@dataclass(frozen=True, slots=True)
class HookContext:
    agent_id: str
    execution_id: str
    event: str
    data: dict[str, Any]


HookFn = Callable[[HookContext], HookResult | Awaitable[HookResult | None] | None]


class Hook:
    def __init__(self, fn: HookFn, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "hook")

    async def __call__(self, context: HookContext) -> HookResult:
        outcome = self.fn(context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return outcome if isinstance(outcome, HookResult) else HookResult()


def hook(fn: HookFn) -> Hook:
    """Decorate ``fn(context: HookContext) -> HookResult | None`` (sync or async)."""
    return Hook(fn)


def as_hook(value: Hook | HookFn | None) -> Hook | None:
    if value is None or isinstance(value, Hook):
        return value
    return Hook(value)
