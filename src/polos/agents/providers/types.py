"""The provider-neutral model of one LLM call: what goes in and what comes out.

Every adapter translates these to and from its SDK, so the agent loop above
never sees a vendor type. They are pydantic models because a request and its
response are recorded as step inputs and outputs and must round-trip as JSON.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, JsonValue, PrivateAttr, model_validator

Role = Literal["system", "user", "assistant", "tool"]

FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "other"]
"""Why the model stopped, normalised across providers.

``other`` covers reasons with no common meaning (for example Anthropic's
``pause_turn``); the agent loop treats it like ``stop``.
"""

JsonObject = dict[str, JsonValue]


class ToolCall(BaseModel):
    """A call to a tool, as asked for by the model."""

    id: str
    name: str
    arguments: JsonObject = Field(default_factory=dict)
    raw_arguments: str = ""
    """The arguments exactly as the model wrote them.

    Kept because a model can write JSON that does not parse (``arguments`` is
    then empty) and because providers want the original string sent back.
    """

    @model_validator(mode="after")
    def _fill_raw_arguments(self) -> ToolCall:
        if not self.raw_arguments:
            self.raw_arguments = json.dumps(self.arguments)
        return self

    @classmethod
    def from_raw(cls, id: str, name: str, raw_arguments: str) -> ToolCall:
        """Build a call from the model's argument string, tolerating bad JSON."""
        return cls(
            id=id,
            name=name,
            arguments=parse_arguments(raw_arguments),
            raw_arguments=raw_arguments or "{}",
        )


class ToolResult(BaseModel):
    """What a tool returned, sent back to the model in a ``tool`` message."""

    tool_call_id: str
    content: str
    name: str | None = None
    """The tool's name; only some providers want it, none require it."""
    is_error: bool = False


class Message(BaseModel):
    """One message of a conversation.

    ``assistant`` messages may carry ``tool_calls``; ``tool`` messages carry the
    ``tool_results`` answering them (all results of one turn may share one
    message, which is what Anthropic expects for parallel calls).
    """

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_role_fields(self) -> Message:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages carry tool_calls, not {self.role!r}")
        if self.role == "tool" and not self.tool_results:
            raise ValueError("a tool message needs at least one tool result")
        if self.tool_results and self.role != "tool":
            raise ValueError(f"only tool messages carry tool_results, not {self.role!r}")
        return self

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: list[ToolCall] | None = None) -> Message:
        return cls(role="assistant", content=content, tool_calls=tool_calls or [])

    @classmethod
    def tool(cls, *results: ToolResult) -> Message:
        return cls(role="tool", tool_results=list(results))


def _no_parameters() -> JsonObject:
    return {"type": "object", "properties": {}}


class ToolSpec(BaseModel):
    """A tool offered to the model: its name, what it does, its JSON schema."""

    name: str
    description: str = ""
    parameters: JsonObject = Field(default_factory=_no_parameters)


class LLMRequest(BaseModel):
    """Everything one LLM call needs, independent of the provider."""

    messages: list[Message]
    model: str | None = None
    """Overrides the model the provider was created for; usually left unset."""
    tools: list[ToolSpec] = Field(default_factory=list)
    temperature: float | None = None
    max_output_tokens: int | None = None
    response_schema: JsonObject | None = None
    """A JSON schema the answer must follow (structured output), if any."""
    response_schema_name: str = "response"
    top_p: float | None = None
    extra: JsonObject = Field(default_factory=dict)
    """Further request fields sent as they are (an agent's ``provider_kwargs``)."""
    _wire_log: Any = PrivateAttr(default=None)
    """The conversation's :class:`~._wire_log.WireLog` when the caller only appends to it."""


class Usage(BaseModel):
    """Tokens of one call; ``input_tokens`` includes cached prompt tokens.

    The cache counts are set only by providers that report them (Anthropic).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cache_read_input_tokens=_add(
                self.cache_read_input_tokens, other.cache_read_input_tokens
            ),
            cache_creation_input_tokens=_add(
                self.cache_creation_input_tokens, other.cache_creation_input_tokens
            ),
        )

    @classmethod
    def of(cls, input_tokens: int | None, output_tokens: int | None) -> Usage:
        """Usage from counts a provider may leave out (``None`` counts as 0)."""
        inp, out = input_tokens or 0, output_tokens or 0
        return cls(input_tokens=inp, output_tokens=out, total_tokens=inp + out)


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


class LLMResponse(BaseModel):
    """The model's answer to one call."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    model: str = ""
    """The model that answered, as the provider reports it."""
    id: str = ""
    """The provider's id of this response, for cross-referencing its logs."""

    def to_message(self) -> Message:
        """The assistant message to append to the conversation."""
        return Message.assistant(self.text, list(self.tool_calls))


class StreamChunk(BaseModel):
    """A piece of text, streamed as the model writes it."""

    type: Literal["text_delta"] = "text_delta"
    text: str


def parse_arguments(raw: str) -> JsonObject:
    """Parse a tool call's argument string; anything but a JSON object gives ``{}``.

    Models occasionally write broken JSON. Failing the whole call would lose the
    turn; an empty dict instead fails the tool's own input validation, whose
    message goes back to the model so it can correct itself.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
