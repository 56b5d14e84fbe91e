"""``Agent``: an LLM loop with tools, as a durable workflow."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from ..engine.context import WorkflowContext
from ..errors import WorkflowDefinitionError
from ..runtime.current import default_client, forbid_inside_workflow
from ..runtime.workflow import Workflow
from ..types import BatchWorkflowInput, ExecutionHandle
from .control import Guardrail, Hook, StopCondition, as_hook
from .memory import MemoryConfig, load_session
from .providers.base import Provider
from .providers.registry import get_provider
from .providers.retry import RetryPolicy
from .providers.types import Message, Usage
from .results import AgentInput, AgentResult, AgentStreamEvent
from .tools import Tool

DEFAULT_MAX_STEPS = 20
_HOOKS = (
    "on_start",
    "on_end",
    "on_agent_step_start",
    "on_agent_step_end",
    "on_tool_start",
    "on_tool_end",
)


class Budget(BaseModel):
    """Stop the agent cleanly (``stop_reason="budget"``) once it used this much."""

    max_tokens: int | None = None
    max_cost: float | None = None


class AgentInvocation(BaseModel):
    """An agent with its input, for ``ctx.step.agent_invoke*`` and ``batch_agent_invoke``."""

    agent_id: str
    input: str | list[Message]
    session_id: str | None = None
    user_id: str | None = None

    def as_batch_input(self) -> BatchWorkflowInput:
        return BatchWorkflowInput(
            id=self.agent_id,
            payload=AgentInput(input=self.input),
            session_id=self.session_id,
            user_id=self.user_id,
        )


class Agent(Workflow):
    """An agent: ``await agent.run(client, "...")``, ``invoke``, ``stream``, ``with_input``."""

    kind = "agent"

    def __init__(
        self,
        id: str | None = None,
        provider: str = "openai",
        model: str = "gpt-4o",
        system_prompt: str = "",
        tools: Sequence[Tool] = (),
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        output_schema: type[BaseModel] | None = None,
        stop_conditions: Sequence[StopCondition] = (),
        guardrails: Sequence[Guardrail | str] = (),
        guardrail_max_retries: int = 2,
        on_start: Hook | Callable[..., Any] | None = None,
        on_end: Hook | Callable[..., Any] | None = None,
        on_agent_step_start: Hook | Callable[..., Any] | None = None,
        on_agent_step_end: Hook | Callable[..., Any] | None = None,
        on_tool_start: Hook | Callable[..., Any] | None = None,
        on_tool_end: Hook | Callable[..., Any] | None = None,
        provider_base_url: str | None = None,
        queue: Any = None,
        *,
        api_key: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        output_retries: int = 2,
        memory: MemoryConfig | None = None,
        budget: Budget | None = None,
        cost_per_million_tokens: tuple[float, float] | None = None,
        provider_retry: RetryPolicy | None = None,
        description: str | None = None,
    ) -> None:
        agent = self

        async def agent_workflow(ctx: WorkflowContext, input: AgentInput) -> AgentResult:
            from .loop import run_agent

            return await run_agent(agent, ctx, input)

        super().__init__(
            agent_workflow,
            id=id or _default_id(),
            description=description or system_prompt,
            queue=queue,
        )
        from ..engine import definition as registry

        registry.register(self)
        for t in tools:
            if not isinstance(t, Tool):
                raise WorkflowDefinitionError(f"agent {self.id!r}: {t!r} is not a @tool")
        if output_schema is not None and not (
            isinstance(output_schema, type) and issubclass(output_schema, BaseModel)
        ):
            raise WorkflowDefinitionError(
                f"agent {self.id!r}: output_schema must be a pydantic model class"
            )
        if max_steps < 1:
            raise WorkflowDefinitionError(f"agent {self.id!r}: max_steps must be at least 1")
        self.provider_name, self.model, self.provider_base_url = provider, model, provider_base_url
        self.api_key, self.provider_retry = api_key, provider_retry
        self.system_prompt, self.tools = system_prompt, list(tools)
        self.temperature, self.max_output_tokens = temperature, max_output_tokens
        self.output_schema, self.output_retries = output_schema, output_retries
        self.stop_conditions, self.max_steps = list(stop_conditions), max_steps
        self.guardrails = [
            g if isinstance(g, Guardrail | str) else Guardrail(g) for g in guardrails
        ]
        self.guardrail_max_retries = guardrail_max_retries
        self.memory = memory or MemoryConfig()
        self.budget, self.cost_per_million_tokens = budget, cost_per_million_tokens
        given = dict(
            zip(
                _HOOKS,
                (
                    on_start,
                    on_end,
                    on_agent_step_start,
                    on_agent_step_end,
                    on_tool_start,
                    on_tool_end,
                ),
                strict=True,
            )
        )
        self.hooks: dict[str, Hook] = {
            k: h for k, v in given.items() if (h := as_hook(v)) is not None
        }
        self._provider: Provider | None = None

    # configuration ------------------------------------------------------------------------
    def provider(self) -> Provider:
        """The provider adapter; a missing key or unknown provider raises ``ProviderConfigError``."""
        if self._provider is None:
            self._provider = get_provider(
                self.provider_name,
                self.model,
                self.provider_base_url,
                api_key=self.api_key,
                retry=self.provider_retry,
            )
        return self._provider

    def tool_named(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.id == name), None)

    def cost_of(self, usage: Usage) -> float | None:
        if self.cost_per_million_tokens is None:
            return None
        per_input, per_output = self.cost_per_million_tokens
        return (usage.input_tokens * per_input + usage.output_tokens * per_output) / 1_000_000

    # running ------------------------------------------------------------------------------
    def with_input(
        self,
        input: str | list[Message],
        *,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> AgentInvocation:
        return AgentInvocation(
            agent_id=self.id, input=input, session_id=session_id, user_id=user_id
        )

    async def invoke(  # type: ignore[override]
        self,
        client: Any = None,
        input: str | list[Message] | None = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: bool = False,
        **options: Any,
    ) -> ExecutionHandle:
        forbid_inside_workflow(f"{self.id}.invoke()")
        target, text = _split(client, input)
        self.provider()  # a misconfigured provider fails here, before anything is stored
        handle: ExecutionHandle = await target.invoke(
            self,
            AgentInput(input=text, stream=stream),
            session_id=session_id,
            user_id=user_id,
            **options,
        )
        return handle

    async def run(  # type: ignore[override]
        self,
        client: Any = None,
        input: str | list[Message] | None = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        timeout: float | None = 600.0,
        **options: Any,
    ) -> AgentResult:
        handle = await self.invoke(client, input, session_id=session_id, user_id=user_id, **options)
        result: AgentResult = await handle.result(timeout=timeout)
        return result

    async def stream(
        self,
        client: Any = None,
        input: str | list[Message] | None = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        **options: Any,
    ) -> AgentStream:
        """Start a run and follow it: text chunks and step/tool events as they happen."""
        target, text = _split(client, input)
        handle = await self.invoke(
            target, text, session_id=session_id, user_id=user_id, stream=True, **options
        )
        return AgentStream(target, self.id, handle)

    async def session_usage(self, client: Any, session_id: str) -> Usage:
        """Tokens used by every run of a session (summaries included)."""
        from ..runtime.client import store_of

        return (await load_session(await store_of(client), session_id)).usage


class AgentStream:
    """Async iterator of ``AgentStreamEvent``; ends with a ``done`` event carrying the result."""

    def __init__(self, client: Any, agent_id: str, handle: ExecutionHandle) -> None:
        self.client, self.agent_id, self.handle = client, agent_id, handle

    @property
    def execution_id(self) -> str:
        return self.handle.id

    async def __aiter__(self) -> AsyncIterator[AgentStreamEvent]:
        from .. import events

        async for event in events.stream_workflow(self.client, self.agent_id, self.handle.id):
            data = event.data if isinstance(event.data, dict) else {}
            kind = event.event_type or "event"
            if kind == "done" or event.id.endswith((":step_start", ":step_finish", ":finish")):
                continue  # the run tree's lifecycle events: not part of this view
            yield AgentStreamEvent(
                type=kind, text=str(data.get("text", "")) if kind == "text_delta" else "", data=data
            )
        yield AgentStreamEvent(type="done", result=await self.result())

    async def result(self, timeout: float | None = 600.0) -> AgentResult:
        result: AgentResult = await self.handle.result(self.client, timeout=timeout)
        return result

    async def text(self) -> str:
        """All streamed text, once the run is over."""
        return "".join([e.text async for e in self if e.type == "text_delta"])


def _split(client: Any, input: Any) -> tuple[Any, Any]:
    from ..runtime.client import ClientLike

    if isinstance(client, ClientLike):
        return client, input
    if input is None and client is not None:
        return default_client(), client
    return client or default_client(), input


def _default_id() -> str:
    """A stable id from where the agent is defined: the same in every process."""
    frame = sys._getframe(2)
    return f"{frame.f_globals.get('__name__', 'agent')}:agent@{frame.f_lineno}"
