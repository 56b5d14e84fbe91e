"""Tools: durable child workflows an agent's model can call.

``@tool(description=..., approval="always"|"none", queue=...)`` on
``fn(ctx, input: PydanticModel)``. The JSON schema sent to the model is the
input model's. A tool is a workflow, so each call is a durable child run of
the agent: it survives crashes, shows in the history, honours queues.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, overload

from pydantic import BaseModel, ValidationError

from ..engine import definition as registry
from ..engine.context import WorkflowContext
from ..errors import WorkflowDefinitionError
from ..runtime.workflow import Workflow
from .providers.types import ToolSpec

Approval = Literal["always", "none"]


class Tool(Workflow):
    """A workflow an agent's model may call, with a description and an input schema."""

    kind = "tool"

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        id: str | None = None,
        description: str | None = None,
        approval: Approval = "none",
        queue: Any = None,
    ) -> None:
        super().__init__(fn, id=id, description=description, queue=queue)
        if approval not in ("always", "none"):
            raise WorkflowDefinitionError(
                f"tool {self.id!r}: approval must be 'always' or 'none', not {approval!r}"
            )
        if not self.takes_payload or not (
            isinstance(self.input_type, type) and issubclass(self.input_type, BaseModel)
        ):
            raise WorkflowDefinitionError(
                f"tool {self.id!r} must take (ctx, input: SomePydanticModel), so the model "
                "gets a JSON schema for its arguments"
            )
        self.approval: Approval = approval
        self.input_model: type[BaseModel] = self.input_type

    def spec(self) -> ToolSpec:
        schema = self.input_model.model_json_schema()
        return ToolSpec(name=self.id, description=self.description, parameters=schema)

    def check_arguments(self, arguments: dict[str, Any]) -> str | None:
        """``None`` when the model's arguments validate, else what was wrong (for the model)."""
        try:
            self.input_model.model_validate(arguments)
        except ValidationError as exc:
            return f"invalid arguments for tool {self.id}: {exc}"
        return None


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    id: str | None = None,
    description: str | None = None,
    approval: Approval = "none",
    queue: Any = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    id: str | None = None,
    description: str | None = None,
    approval: Approval = "none",
    queue: Any = None,
) -> Any:
    """Declare a tool: ``@tool`` or ``@tool(description="...", approval="always")``."""

    def wrap(f: Callable[..., Any]) -> Tool:
        made = Tool(
            f,
            id=id,
            description=description or inspect.getdoc(f) or "",
            approval=approval,
            queue=queue,
        )
        registry.register(made)
        return made

    return wrap(fn) if fn is not None else wrap


class AskUserInput(BaseModel):
    """What the model asks a person; ``fields`` describe an optional form."""

    question: str
    fields: dict[str, str] | None = None


@tool(
    id="ask_user",
    description="Ask the human user a question and wait for their answer. Use it when you "
    "need information or a decision only the user can give.",
)
async def ask_user(ctx: WorkflowContext, input: AskUserInput) -> Any:
    """Suspends until a person answers through ``resume`` (the answer is the resume data)."""
    answer = await ctx.step.suspend(
        "answer", data={"question": input.question, "fields": input.fields}
    )
    return answer.data
