"""Tools: durable child workflows an agent's model can call.

``@tool(description=..., approval="always", queue=..., on_start=..., on_end=...)``
on ``fn(ctx, input: PydanticModel)`` or ``fn(ctx)``. The JSON schema the
model gets is the input model's (or ``parameters=`` when given; a tool
taking only ``ctx`` has none). ``Tool(id, description, parameters, func, ...)``
builds one directly, and a subclass may override ``_default_execute``. A
tool is a workflow, so each call is a durable child run of the agent: it
survives crashes, shows in the history, honours queues. Its ``on_start`` and
``on_end`` hooks run inside that run, as its steps.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal, get_type_hints, overload

from pydantic import BaseModel, ValidationError

from ..engine import definition as registry
from ..engine.calls import call_function
from ..engine.context import WorkflowContext
from ..errors import WorkflowDefinitionError
from ..runtime.workflow import Workflow
from ..store.vocabulary import WorkflowType
from .errors import HookFailedError
from .hooks import HookContext, merged, normalize_hooks, run_hooks
from .providers.types import ToolSpec

ToolApproval = Literal["always", "none"]
Approval = ToolApproval

_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


class Tool(Workflow):
    """A workflow an agent's model may call, with a description and a JSON schema."""

    kind = WorkflowType.TOOL

    def __init__(
        self,
        id: str | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        func: Callable[..., Any] | None = None,
        queue: Any = None,
        on_start: Any = None,
        on_end: Any = None,
        approval: ToolApproval | None = None,
        **options: Any,
    ) -> None:
        fn = func if func is not None else self._default_execute
        if approval not in (None, "always", "none"):
            raise WorkflowDefinitionError(
                f"tool {id!r}: approval must be 'always' or 'none', not {approval!r}"
            )
        self.input_model: type[BaseModel] | None = _input_model(fn, id)
        super().__init__(
            _with_hooks(self, fn),
            id=id or getattr(fn, "__name__", None),
            description=description or inspect.getdoc(fn) or "",
            queue=queue,
            **options,
        )
        owner = f"tool {self.id!r}"
        self.on_start = normalize_hooks(on_start, owner, "on_start")
        self.on_end = normalize_hooks(on_end, owner, "on_end")
        self.approval: ToolApproval = approval or "none"
        if parameters is None:
            parameters = (
                self.input_model.model_json_schema()
                if self.input_model is not None
                else dict(_NO_PARAMETERS)
            )
        self.parameters: dict[str, Any] = parameters
        registry.register(self)

    def _default_execute(self, ctx: WorkflowContext, payload: Any) -> Any:
        """What a ``Tool`` built without ``func`` runs: subclasses override it."""
        raise NotImplementedError(
            f"tool {self.id!r} has no function: pass func=... or override _default_execute"
        )

    # Polos's names for what the model is told -----------------------------------------
    @property
    def _tool_description(self) -> str:
        return self.description

    @property
    def _tool_parameters(self) -> dict[str, Any]:
        return self.parameters

    @property
    def _input_schema_class(self) -> type[BaseModel] | None:
        return self.input_model

    def get_tool_type(self) -> str:
        return "default"

    def get_tool_metadata(self) -> dict[str, Any] | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "tool_type": self.get_tool_type(),
            "description": self.description,
            "parameters": self.parameters,
            "metadata": self.get_tool_metadata(),
        }

    def to_llm_tool_definition(self) -> dict[str, Any]:
        """The tool in OpenAI's function-calling format."""
        return {
            "type": "function",
            "function": {
                "name": self.id,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.id, description=self.description, parameters=self.parameters)

    def check_arguments(self, arguments: dict[str, Any]) -> str | None:
        """``None`` when the model's arguments validate, else what was wrong (for the model)."""
        if self.input_model is None:
            return None
        try:
            self.input_model.model_validate(arguments)
        except ValidationError as exc:
            return f"invalid arguments for tool {self.id}: {exc}"
        return None


def _input_model(fn: Callable[..., Any], tool_id: str | None) -> type[BaseModel] | None:
    """The pydantic model of the tool's input, or ``None`` for ``fn(ctx)`` and untyped input."""
    params = list(inspect.signature(fn).parameters.values())
    name = tool_id or getattr(fn, "__name__", repr(fn))
    if not params or len(params) > 2:
        raise WorkflowDefinitionError(
            f"tool {name!r} must take (ctx) or (ctx, input: SomePydanticModel), "
            f"not {len(params)} parameter(s)"
        )
    if len(params) == 1:
        return None
    try:
        hint = get_type_hints(fn).get(params[1].name)
    except Exception:
        hint = None
    return hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None


def _with_hooks(tool: Tool, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The tool's workflow function: ``fn`` between the tool's on_start and on_end hooks."""

    def hook_context(ctx: WorkflowContext, **update: Any) -> HookContext:
        # Made only for a tool with hooks: a pydantic model per call is not free
        # (a few per cent of a busy agent worker's CPU), and most tools have none.
        return HookContext(
            workflow_id=tool.id,
            session_id=ctx.session_id,
            user_id=ctx.user_id,
            execution_id=ctx.execution_id,
            **update,
        )

    @functools.wraps(fn)
    async def run_tool(ctx: WorkflowContext, *payload: Any) -> Any:
        args: tuple[Any, ...] = (ctx, *payload)
        value = payload[0] if payload else None
        if tool.on_start:
            outcome = await run_hooks(
                ctx,
                "on_start",
                tool.on_start,
                hook_context(ctx, event="on_start", current_payload=_plain(value)),
            )
            if outcome.failed:
                raise HookFailedError(outcome.error_message or "on_start hook failed", "on_start")
            if outcome.modified_payload is not None and payload:
                value = (
                    tool.input_model.model_validate(outcome.modified_payload)
                    if tool.input_model is not None
                    else outcome.modified_payload
                )
                args = (ctx, value)
        result = await call_function(fn, args, {})
        if tool.on_end:
            outcome = await run_hooks(
                ctx,
                "on_end",
                tool.on_end,
                hook_context(
                    ctx, event="on_end", current_payload=_plain(value), current_output=result
                ),
            )
            if outcome.failed:
                raise HookFailedError(outcome.error_message or "on_end hook failed", "on_end")
            if outcome.modified_output is not None:
                result = merged(result, outcome.modified_output)
        return result

    return run_tool


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


@overload
def tool(id: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    id: str | None = None,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
    queue: Any = None,
    on_start: Any = None,
    on_end: Any = None,
    approval: ToolApproval | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    id: str | Callable[..., Any] | None = None,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
    queue: Any = None,
    on_start: Any = None,
    on_end: Any = None,
    approval: ToolApproval | None = None,
    **options: Any,
) -> Any:
    """Declare a tool: ``@tool`` or ``@tool(description="...", approval="always")``.

    The tool's id is the function's name unless ``id=`` says otherwise.
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool(
            id=id if isinstance(id, str) else None,
            description=description,
            parameters=parameters,
            func=f,
            queue=queue,
            on_start=on_start,
            on_end=on_end,
            approval=approval,
            **options,
        )

    if callable(id):
        return wrap(id)
    return wrap
