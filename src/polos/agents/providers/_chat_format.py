"""The Chat Completions wire format, shared by the OpenAI and LiteLLM adapters.

LiteLLM speaks this format for every provider it supports, and its response
objects have the same attributes as the ``openai`` SDK's, so building the
request, reading the answer and accumulating stream chunks live here once.
Responses are read by attribute (``Any``): this is the SDK boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._wire_cache import wire_items
from ._wire_log import wire_messages
from .types import FinishReason, LLMRequest, LLMResponse, Message, ToolCall, Usage

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "length",
    "content_filter": "content_filter",
}


def chat_messages(request: LLMRequest) -> list[dict[str, Any]]:
    return wire_messages(request, "chat", _extend)[0]


def _extend(out: list[dict[str, Any]], state: None, messages: list[Message]) -> None:
    for message in messages:
        out.extend(wire_items(message, "chat", _chat_items))


def _chat_items(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        # One wire message per result: the format has no way to group them.
        return [
            {"role": "tool", "tool_call_id": result.tool_call_id, "content": result.content}
            for result in message.tool_results
        ]
    if message.role == "assistant" and message.tool_calls:
        return [
            {
                "role": "assistant",
                # null, not "", is what servers expect beside tool calls
                "content": message.content or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.raw_arguments},
                    }
                    for call in message.tool_calls
                ],
            }
        ]
    return [{"role": message.role, "content": message.content}]


def chat_params(request: LLMRequest, model: str, *, max_tokens_param: str) -> dict[str, Any]:
    """Keyword arguments of ``chat.completions.create`` for ``request``.

    ``max_tokens_param`` differs by server: OpenAI wants
    ``max_completion_tokens`` (reasoning models refuse ``max_tokens``) while
    many compatible servers still only know ``max_tokens``.
    """
    params: dict[str, Any] = {"model": model, "messages": chat_messages(request)}
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_output_tokens is not None:
        params[max_tokens_param] = request.max_output_tokens
    if request.top_p is not None:
        params["top_p"] = request.top_p
    if request.extra:
        params["extra_body"] = dict(request.extra)
    if request.response_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.response_schema_name,
                "schema": request.response_schema,
                # strict mode rejects ordinary schemas (optional fields, no
                # additionalProperties); the caller validates the answer anyway
                "strict": False,
            },
        }
    return params


def chat_response(completion: Any, model: str) -> LLMResponse:
    """Read a non-streamed ``ChatCompletion`` (or LiteLLM ``ModelResponse``)."""
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCall.from_raw(call.id, call.function.name, call.function.arguments or "")
        for call in (message.tool_calls or [])
    ]
    return LLMResponse(
        text=message.content or "",
        tool_calls=calls,
        usage=_usage(getattr(completion, "usage", None)),
        finish_reason=_finish_reason(choice.finish_reason, bool(calls)),
        model=completion.model or model,
        id=completion.id or "",
    )


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ChatStreamAccumulator:
    """Builds the final response from ``chat.completion.chunk`` objects."""

    model: str
    id: str = ""
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    calls: dict[int, _PartialCall] = field(default_factory=dict)

    def add(self, chunk: Any) -> str:
        """Take in one chunk; return its text delta ("" if none)."""
        self.id = self.id or (chunk.id or "")
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None):
            self.usage = _usage(chunk.usage)
        if not chunk.choices:
            return ""  # the usage-only chunk that ends a stream
        choice = chunk.choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return ""
        # Tool calls arrive in pieces keyed by index: the first piece brings
        # the id and name, later pieces append to the arguments string.
        for piece in getattr(delta, "tool_calls", None) or []:
            partial = self.calls.setdefault(piece.index, _PartialCall())
            partial.id = partial.id or (piece.id or "")
            function = piece.function
            if function is not None:
                partial.name = partial.name or (function.name or "")
                partial.arguments.append(function.arguments or "")
        text: str = delta.content or ""
        if text:
            self.text.append(text)
        return text

    def response(self) -> LLMResponse:
        calls = [
            ToolCall.from_raw(partial.id, partial.name, "".join(partial.arguments))
            for _, partial in sorted(self.calls.items())
        ]
        return LLMResponse(
            text="".join(self.text),
            tool_calls=calls,
            usage=self.usage,
            finish_reason=_finish_reason(self.finish_reason, bool(calls)),
            model=self.model,
            id=self.id,
        )


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    inp, out = usage.prompt_tokens or 0, usage.completion_tokens or 0
    total = getattr(usage, "total_tokens", None)
    return Usage(input_tokens=inp, output_tokens=out, total_tokens=total or inp + out)


def _finish_reason(raw: str | None, has_calls: bool) -> FinishReason:
    reason = _FINISH_REASONS.get(raw or "stop", "other")
    # Some compatible servers say "stop" even when they return tool calls;
    # what matters to the agent loop is that calls are waiting to run. A
    # truncated or filtered answer stays so, even with calls in it.
    if has_calls and reason not in ("length", "content_filter"):
        return "tool_calls"
    return reason
