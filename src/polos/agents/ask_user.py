"""``ask_user``: the tool through which an agent's model asks a person something.

The tool run suspends (``ctx.step.suspend``) with the question and a form
in Polos's ``_form`` shape (the fields the model asked for, or one free-text
field), and returns what the person resumes it with.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..engine.context import WorkflowContext
from .tools import Tool, tool

__all__ = ["AskUserField", "AskUserFieldOption", "AskUserInput", "ask_user", "create_ask_user_tool"]


class AskUserFieldOption(BaseModel):
    """One choice of a ``select`` field."""

    label: str
    value: str


class AskUserField(BaseModel):
    """One field of the form shown to the person."""

    key: str = Field(description="Unique key for this field")
    type: Literal["text", "textarea", "number", "boolean", "select"] = Field(
        description="Field type"
    )
    label: str = Field(description="Label shown to the user")
    description: str | None = Field(default=None, description="Help text for the field")
    required: bool | None = Field(default=None, description="Whether the field is required")
    options: list[AskUserFieldOption] | None = Field(
        default=None, description="Choices of a select field"
    )


class AskUserInput(BaseModel):
    """What the model asks: a question, an optional title, optional form fields."""

    question: str = Field(description="The question to ask the user")
    title: str | None = Field(default=None, description="A short title for the question")
    fields: list[AskUserField] | None = Field(
        default=None,
        description="Form fields for a structured answer; without them the user answers in "
        "free text.",
    )


@tool(
    id="ask_user",
    description="Ask the user a question and wait for their answer. Use it when you need "
    "clarification, a decision or any input only the user can give. Define fields (text, "
    "select, boolean...) for a structured answer, or none for a free-text one.",
)
async def ask_user(ctx: WorkflowContext, input: AskUserInput) -> Any:
    """Suspends until a person answers with ``resume``; returns the data they sent."""
    fields = (
        [f.model_dump(exclude_none=True) for f in input.fields]
        if input.fields is not None
        else [{"key": "response", "type": "textarea", "label": input.question, "required": True}]
    )
    answer = await ctx.step.suspend(
        "ask_user",
        data={
            "question": input.question,
            "fields": fields,
            "_form": {
                "title": input.title or "Agent Question",
                "description": input.question,
                "fields": fields,
            },
            "_source": "ask_user",
            "_tool": "ask_user",
        },
    )
    data = answer.get("data")
    return data if data is not None else {}


def create_ask_user_tool() -> Tool:
    """The ``ask_user`` tool, to put in an agent's ``tools``."""
    return ask_user
