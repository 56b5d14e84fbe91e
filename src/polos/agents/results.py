"""What goes into an agent run and what comes out of it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .providers.types import Message, Usage


class AgentInput(BaseModel):
    """The payload of an agent run: the user's input and how to run."""

    input: str | list[Message]
    #: Publish text chunks and step events to the run's topic, for ``agent.stream``.
    stream: bool = False


class ToolCallRecord(BaseModel):
    """One tool call of the run: what the model asked, what came back."""

    step: int
    tool_call_id: str
    name: str
    arguments: dict[str, Any]
    result: str
    is_error: bool = False
    execution_id: str | None = None
    approval: Literal["not_needed", "approved", "rejected", "edited"] = "not_needed"


class AgentStep(BaseModel):
    """One LLM call of the run and what followed it."""

    step: int
    text: str = ""
    tool_calls: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str = "stop"


class AgentResult(BaseModel):
    """The outcome of an agent run.

    ``result`` is the ``output_schema`` instance when the agent has one, else
    the final text (also in ``text``).
    """

    agent_id: str
    execution_id: str
    result: Any = None
    text: str = ""
    steps: list[AgentStep] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    #: Why the loop ended: ``final_answer``, ``stop_condition:<name>``, ``budget``, ``max_steps``.
    stop_reason: str = "final_answer"
    session_id: str | None = None


class AgentStreamEvent(BaseModel):
    """What ``agent.stream`` yields while the run goes on.

    ``type`` is ``text_delta`` (``text`` holds the chunk), ``step_start``,
    ``step_end``, ``tool_start``, ``tool_end`` (``data`` holds details) or
    ``done`` (``result`` holds the ``AgentResult``).
    """

    type: str
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    result: AgentResult | None = None
