"""What goes into an agent run and what comes out of it.

The records a run keeps (``Step``, ``ToolCall``, ``ToolResult``) and returns
(``AgentResult``) have Polos's shapes and names (``polos.types.types``), so
code written for Polos reads them unchanged; a few fields of our own
(``text``, ``tool_calls``, ``stop_reason``, ``cost``...) are added beside them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field

from .providers import types as llm
from .providers.types import Message, Usage

__all__ = [
    "AgentConfig",
    "AgentInput",
    "AgentResult",
    "AgentStep",
    "AgentStreamEvent",
    "Step",
    "ToolCall",
    "ToolCallFunction",
    "ToolCallRecord",
    "ToolResult",
    "Usage",
]


class AgentInput(BaseModel):
    """The payload of an agent run, as Polos shapes it.

    ``{"input": "...", "streaming": True, "provider_kwargs": {...}}``: the
    user's input (text, or a list of ``{"role", "content"}`` messages),
    whether to publish text chunks and tool calls to the run tree's topic as
    they come, and request fields passed on to the model's API.
    """

    input: str | list[Message]
    streaming: bool = Field(default=False, validation_alias=AliasChoices("streaming", "stream"))
    provider_kwargs: dict[str, Any] = Field(default_factory=dict)


class ToolCallFunction(BaseModel):
    """The function part of a tool call: its name and its JSON arguments (a string)."""

    name: str
    arguments: str


class ToolCall(BaseModel):
    """A tool call the model made, in the OpenAI wire shape Polos uses."""

    id: str
    type: str = "function"
    function: ToolCallFunction
    call_id: str | None = None

    @classmethod
    def of(cls, call: llm.ToolCall) -> ToolCall:
        return cls(
            id=call.id,
            function=ToolCallFunction(name=call.name, arguments=call.raw_arguments),
            call_id=call.id,
        )

    def to_llm(self) -> llm.ToolCall:
        return llm.ToolCall.from_raw(
            self.call_id or self.id, self.function.name, self.function.arguments
        )

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments parsed (``{}`` when they are not a JSON object)."""
        return dict(llm.parse_arguments(self.function.arguments))


class ToolResult(BaseModel):
    """What one tool call returned.

    ``result`` is the tool's value (a model comes back as that model, named
    by ``result_schema``); a failed call has ``status="failed"`` and ``error``.
    """

    tool_name: str
    status: str
    result: Any = None
    result_schema: str | None = None
    error: str | None = None
    tool_call_id: str
    tool_call_call_id: str


class Step(BaseModel):
    """One LLM call of an agent run and what followed it (Polos's ``polos.Step``)."""

    step: int
    content: Any = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    usage: Usage | None = None
    raw_output: Any = None
    #: Why the model stopped: ``stop``, ``tool_calls``, ``length``... (ours; not in
    #: the JSON form, which stays Polos's).
    finish_reason: str | None = Field(default=None, exclude=True)

    @property
    def text(self) -> str:
        """The step's text (``content`` as a string; ``""`` when there was none)."""
        if self.content is None:
            return ""
        return self.content if isinstance(self.content, str) else json.dumps(self.content)


#: Earlier name of :class:`Step`.
AgentStep = Step


class ToolCallRecord(BaseModel):
    """One tool call of the run, flattened: what the model asked, what came back."""

    step: int
    tool_call_id: str
    name: str
    arguments: dict[str, Any]
    result: str
    is_error: bool = False
    execution_id: str | None = None
    approval: Literal["not_needed", "approved", "rejected", "edited"] = "not_needed"


class AgentConfig(BaseModel):
    """What an agent asks of its model (``hook_ctx.agent_config``, ``guardrail_ctx.llm_config``)."""

    name: str
    provider: str
    model: str
    tools: list[dict[str, Any]] = Field(default_factory=list)
    system_prompt: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    provider_base_url: str | None = None
    provider_llm_api: str | None = None
    provider_kwargs: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    output_schema_name: str | None = None
    guardrail_max_retries: int | None = None


class AgentResult(BaseModel):
    """The outcome of an agent run.

    Polos's fields: ``agent_run_id`` (the execution id), ``result`` (the
    ``output_schema`` instance when the agent has one, else the final text),
    ``result_schema``, ``tool_results``, ``total_steps``, ``usage``. Ours:
    ``text``, ``steps``, ``tool_calls``, ``cost``, ``stop_reason``...
    """

    agent_run_id: str
    result: Any = None
    result_schema: str | None = None
    tool_results: list[ToolResult] = Field(default_factory=list)
    total_steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    # Ours: kept with the run, but left out of the JSON form (``model_dump``, the
    # ``agent_finish`` event), which stays Polos's.
    agent_id: str = Field(default="", exclude=True)
    text: str = Field(default="", exclude=True)
    steps: list[Step] = Field(default_factory=list, exclude=True)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, exclude=True)
    cost: float | None = Field(default=None, exclude=True)
    #: Why the loop ended: ``final_answer``, ``stop_condition:<name>``, ``budget``, ``max_steps``.
    stop_reason: str = Field(default="final_answer", exclude=True)
    session_id: str | None = Field(default=None, exclude=True)

    @property
    def execution_id(self) -> str:
        """The run's execution id (the same as ``agent_run_id``)."""
        return self.agent_run_id


class AgentStreamEvent(BaseModel):
    """One event of ``async for event in await agent.stream(...)``.

    ``type`` is the event's type (``text_delta`` with the chunk in ``text``,
    ``tool_call``, ``stream_start``, ``step_start``...), ``data`` its
    payload; the last one is ``done``, with the ``AgentResult`` in ``result``.
    """

    type: str
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    result: AgentResult | None = None
