"""Lifecycle hooks: functions an agent (or a tool) calls at fixed points of a run.

A hook is ``fn(ctx, hook_ctx: HookContext) -> HookResult`` (sync or async;
``fn(hook_ctx)`` is accepted too). It runs as a durable step, so a replay
does not run it again. ``HookResult.continue_with(modified_payload=...,
modified_output=...)`` changes what the run goes on with;
``HookResult.fail("why")`` stops the run with that message.

Where each point is and what a hook may change:

- ``on_start``: ``current_payload`` is the run's payload
  (``{"input", "streaming", "provider_kwargs"}`` for an agent); a modified
  payload replaces it.
- ``on_agent_step_start``: ``current_payload`` is ``{"step", "messages"}``;
  modified ``messages`` replace the conversation sent to the model.
- ``on_agent_step_end``: ``current_output`` is the ``Step``; a modified
  output replaces it.
- ``on_tool_start``: ``current_tool`` and its arguments in
  ``current_payload``; modified arguments are merged in.
- ``on_tool_end``: ``current_output`` is what the tool returned; a modified
  output replaces it (for the model and the result).
- ``on_end``: ``current_output`` is the ``AgentResult``; a modified output
  replaces it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

from ..engine.context import WorkflowContext
from ..errors import WorkflowDefinitionError
from .results import AgentConfig, Step

F = TypeVar("F", bound=Callable[..., Any])


class HookAction(StrEnum):
    """What a hook decided. ``HookResult.action`` holds the value (``"continue"``,
    ``"fail"``), which compares equal to these members."""

    CONTINUE = "continue"
    FAIL = "fail"


class HookContext(BaseModel):
    """What a hook sees (see the module text for each lifecycle point)."""

    workflow_id: str
    session_id: str | None = None
    user_id: str | None = None
    #: The agent's model configuration (not given to ``on_start`` and ``on_end``).
    agent_config: AgentConfig | None = None
    #: The agent's steps so far.
    steps: list[Step] = Field(default_factory=list)
    current_tool: str | None = None
    current_payload: Any = None
    current_output: Any = None
    #: The running execution's id (ours).
    execution_id: str | None = None
    #: Which lifecycle point this is: ``"on_start"``, ``"on_tool_end"``... (ours).
    event: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any) -> HookContext:
        if isinstance(data, HookContext):
            return data
        if isinstance(data, dict):
            return cls.model_validate(data)
        raise TypeError(f"cannot make a HookContext from {type(data).__name__}")


class HookResult(BaseModel):
    """A hook's decision: carry on (perhaps with changes), or fail the run."""

    model_config = ConfigDict(use_enum_values=True)

    action: HookAction = HookAction.CONTINUE
    modified_payload: dict[str, Any] | None = None
    modified_output: Any = None
    error_message: str | None = None

    @classmethod
    def continue_with(cls, **modifications: Any) -> HookResult:
        """Carry on, with ``modified_payload=`` / ``modified_output=`` if given."""
        return cls(action=HookAction.CONTINUE, **modifications)

    @classmethod
    def fail(cls, message: str) -> HookResult:
        """Stop the run; ``message`` becomes its error."""
        return cls(action=HookAction.FAIL, error_message=message)

    @property
    def failed(self) -> bool:
        return bool(self.action == HookAction.FAIL)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HookResult:
        return cls.model_validate(data)


@overload
def hook(func: F, /) -> F: ...


@overload
def hook(func: None = None, /) -> Callable[[F], F]: ...


def hook(func: F | None = None, /) -> F | Callable[[F], F]:
    """Mark ``fn(ctx, hook_ctx) -> HookResult`` as a hook: ``@hook`` or ``@hook()``.

    The function is returned as it is, after its signature was checked.
    """

    def check(f: F) -> F:
        check_arity(f, "hook", "(ctx: WorkflowContext, hook_ctx: HookContext)")
        return f

    return check(func) if func is not None else check


def check_arity(fn: Callable[..., Any], kind: str, shape: str) -> int:
    """How many arguments ``fn`` takes (1 or 2); anything else is refused."""
    if not callable(fn):
        raise WorkflowDefinitionError(f"a {kind} must be a function {shape}, got {fn!r}")
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: assume Polos's shape
        return 2
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) == 2:
        return 2
    if len(positional) == 1:
        return 1
    name = getattr(fn, "__name__", repr(fn))
    raise WorkflowDefinitionError(
        f"{kind} {name!r} must take {shape}; it takes {len(positional)} argument(s)"
    )


def normalize_hooks(value: Any, owner: str, point: str) -> list[Callable[..., Any]]:
    """``None``, one hook or a list of hooks, as a list; anything else fails now."""
    if value is None:
        return []
    hooks = list(value) if isinstance(value, list | tuple) else [value]
    for fn in hooks:
        if not callable(fn):
            raise WorkflowDefinitionError(
                f"{owner}: {point} must be a hook function or a list of them, got {fn!r}"
            )
        check_arity(fn, "hook", "(ctx: WorkflowContext, hook_ctx: HookContext)")
    return hooks


def callable_name(fn: Any, index: int, fallback: str) -> str:
    name = getattr(fn, "__name__", "")
    return name if name and name != "<lambda>" else f"{fallback}_{index}"


async def run_hooks(
    ctx: WorkflowContext,
    key: str,
    hooks: Sequence[Callable[..., Any]],
    hook_ctx: HookContext,
) -> HookResult:
    """Run ``hooks`` in order, each as the step ``<key>.<name>.<i>``.

    Each hook sees the payload and output as the hooks before it left them.
    Returns the first failure, or a ``continue`` carrying the accumulated
    changes (``None`` for what no hook changed).
    """
    payload, output = hook_ctx.current_payload, hook_ctx.current_output
    payload_changed = output_changed = False
    for i, fn in enumerate(hooks):
        hook_ctx = hook_ctx.model_copy(
            update={"current_payload": payload, "current_output": output}
        )
        outcome = await _call(ctx, f"{key}.{callable_name(fn, i, 'hook')}.{i}", fn, hook_ctx)
        if outcome is None:
            continue
        if not isinstance(outcome, HookResult):
            return HookResult.fail(
                f"hook {callable_name(fn, i, 'hook')!r} returned {type(outcome).__name__}; "
                "a hook returns a HookResult (or None)"
            )
        if outcome.failed:
            return outcome
        if outcome.modified_payload is not None:
            base = payload if isinstance(payload, dict) else {}
            payload, payload_changed = {**base, **outcome.modified_payload}, True
        if outcome.modified_output is not None:
            output, output_changed = merged(output, outcome.modified_output), True
    return HookResult.continue_with(
        modified_payload=payload if payload_changed else None,
        modified_output=output if output_changed else None,
    )


def merged(current: Any, change: Any) -> Any:
    """A modified output: dicts are merged into a dict or a model; anything else replaces."""
    if isinstance(change, dict):
        if isinstance(current, dict):
            return {**current, **change}
        if isinstance(current, BaseModel):
            # The fields as they are (not dumped): nested models stay models.
            return type(current).model_validate({**dict(current), **change})
    return change


async def _call(ctx: WorkflowContext, step_key: str, fn: Callable[..., Any], arg: Any) -> Any:
    if check_arity(fn, "hook", "(ctx, hook_ctx)") == 1:
        return await ctx.step.run(step_key, fn, arg)
    return await ctx.step.run(step_key, fn, ctx, arg)
