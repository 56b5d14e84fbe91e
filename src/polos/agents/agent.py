"""``Agent``: an LLM loop with tools, as a durable workflow.

The constructor takes Polos's arguments in Polos's order (``id, provider,
model, description, system_prompt, tools, ...``), then options of our own
by keyword (``api_key``, ``max_steps``, ``memory``, ``budget``...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from ..engine.context import WorkflowContext
from ..errors import WorkflowDefinitionError
from ..runtime.current import default_client, forbid_inside_workflow
from ..runtime.workflow import Workflow
from ..store.vocabulary import WorkflowType
from ..types import BatchWorkflowInput, ExecutionHandle
from .guardrails import Guardrail, normalize_guardrails
from .hooks import normalize_hooks
from .memory import CompactionConfig, MemoryConfig, load_session
from .providers.base import Provider
from .providers.registry import get_provider
from .providers.retry import RetryPolicy
from .providers.sdk_loading import import_provider_sdk
from .providers.types import Message, Usage
from .results import AgentConfig, AgentInput, AgentResult
from .stop_conditions import as_stop_condition, condition_name
from .stream import AgentStream, AgentStreamHandle, StreamResult
from .tools import Tool

__all__ = [
    "Agent",
    "AgentInvocation",
    "AgentRunConfig",
    "AgentStream",
    "AgentStreamHandle",
    "Budget",
    "StreamResult",
]

#: The most LLM calls of a run when no ``max_steps`` stop condition is given
#: (``POLOS_AGENT_MAX_STEPS`` overrides it, as in Polos).
DEFAULT_MAX_STEPS = 10
#: ``run``/``stream`` keywords that go to the run itself; the others go to the model.
_RUN_OPTIONS = ("queue", "concurrency_key", "priority", "idempotency_key", "run_timeout_seconds")


class Budget(BaseModel):
    """Stop the agent cleanly (``stop_reason="budget"``) once it used this much."""

    max_tokens: int | None = None
    max_cost: float | None = None


class AgentInvocation(BaseModel):
    """An agent with its input, for ``ctx.step.agent_invoke*`` and ``batch_agent_invoke``
    (what ``agent.with_input(...)`` returns; Polos calls it ``AgentRunConfig``)."""

    agent_id: str
    input: str | list[Message]
    session_id: str | None = None
    user_id: str | None = None
    streaming: bool = False
    initial_state: Any = None
    run_timeout_seconds: int | None = None
    provider_kwargs: dict[str, Any] = {}

    def as_batch_input(self) -> BatchWorkflowInput:
        return BatchWorkflowInput(
            id=self.agent_id,
            payload=AgentInput(
                input=self.input, streaming=self.streaming, provider_kwargs=self.provider_kwargs
            ),
            session_id=self.session_id,
            user_id=self.user_id,
            initial_state=self.initial_state,
            run_timeout_seconds=self.run_timeout_seconds,
        )


AgentRunConfig = AgentInvocation


class Agent(Workflow):
    """An agent: ``await agent.run(client, "...")``, ``invoke``, ``stream``, ``with_input``."""

    kind = WorkflowType.AGENT

    def __init__(
        self,
        id: str | None = None,
        provider: str = "openai",
        model: str = "gpt-4o",
        description: str | None = None,
        system_prompt: str | None = None,
        tools: Sequence[Any] | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        provider_base_url: str | None = None,
        provider_llm_api: str | None = None,
        queue: Any = None,
        stop_conditions: Sequence[Any] | None = None,
        output_schema: type[BaseModel] | None = None,
        on_start: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        on_end: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        on_agent_step_start: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        on_agent_step_end: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        on_tool_start: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        on_tool_end: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        guardrails: Guardrail | Sequence[Guardrail] | None = None,
        guardrail_max_retries: int = 2,
        compaction: CompactionConfig | None = None,
        stream_to_workflow: bool = False,
        *,
        api_key: str | None = None,
        max_steps: int | None = None,
        output_retries: int = 2,
        memory: MemoryConfig | None = None,
        budget: Budget | None = None,
        cost_per_million_tokens: tuple[float, float] | None = None,
        provider_retry: RetryPolicy | None = None,
    ) -> None:
        agent = self

        async def agent_workflow(ctx: WorkflowContext, input: AgentInput) -> AgentResult:
            from .loop import run_agent

            # Off the loop: a first import on it stalls the worker for seconds.
            await import_provider_sdk(agent.provider)
            return await run_agent(agent, ctx, input)

        super().__init__(
            agent_workflow,
            id=id or _default_id(),
            description=description or system_prompt or "",
            queue=queue,
        )
        from ..engine import definition as registry

        registry.register(self)
        owner = f"agent {self.id!r}"
        self.tools: list[Tool] = list(tools or ())
        for t in self.tools:
            if not isinstance(t, Tool):
                raise WorkflowDefinitionError(f"{owner}: {t!r} is not a tool (use @tool)")
        if output_schema is not None and not (
            isinstance(output_schema, type) and issubclass(output_schema, BaseModel)
        ):
            raise WorkflowDefinitionError(f"{owner}: output_schema must be a pydantic model class")
        if max_steps is not None and max_steps < 1:
            raise WorkflowDefinitionError(f"{owner}: max_steps must be at least 1")
        #: The provider's name (``"openai"``, ``"anthropic"``...), as in Polos.
        self.provider: str = provider
        self.model, self.provider_base_url = model, provider_base_url
        self.provider_llm_api = provider_llm_api
        self.api_key, self.provider_retry = api_key, provider_retry
        self.system_prompt = system_prompt
        self.temperature, self.max_output_tokens = temperature, max_output_tokens
        self.output_schema, self.output_retries = output_schema, output_retries
        self.stop_conditions = [as_stop_condition(c, owner) for c in stop_conditions or ()]
        self.max_steps = max_steps
        self.guardrails: list[Guardrail] = normalize_guardrails(guardrails, owner)
        self.guardrail_max_retries = guardrail_max_retries
        self.compaction = compaction or CompactionConfig()
        if memory is not None and compaction is not None:
            raise WorkflowDefinitionError(f"{owner}: pass memory= or compaction=, not both")
        self.memory: MemoryConfig = (
            compaction.as_memory_config() if compaction is not None else memory or MemoryConfig()
        )
        self.stream_to_workflow = stream_to_workflow
        self.budget, self.cost_per_million_tokens = budget, cost_per_million_tokens
        self.on_start = normalize_hooks(on_start, owner, "on_start")
        self.on_end = normalize_hooks(on_end, owner, "on_end")
        self.on_agent_step_start = normalize_hooks(
            on_agent_step_start, owner, "on_agent_step_start"
        )
        self.on_agent_step_end = normalize_hooks(on_agent_step_end, owner, "on_agent_step_end")
        self.on_tool_start = normalize_hooks(on_tool_start, owner, "on_tool_start")
        self.on_tool_end = normalize_hooks(on_tool_end, owner, "on_tool_end")
        self._provider: Provider | None = None

    # configuration ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "system_prompt": self.system_prompt,
            "tools": [t.to_llm_tool_definition() for t in self.tools],
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "description": self.description,
        }

    @property
    def provider_name(self) -> str:
        return self.provider

    @property
    def result_output_schema(self) -> type[BaseModel] | None:
        """Polos's name for ``output_schema``."""
        return self.output_schema

    def llm_provider(self) -> Provider:
        """The provider adapter; a missing key or unknown provider raises ``ProviderConfigError``."""
        if self._provider is None:
            self._provider = get_provider(
                self.provider,
                self.model,
                self.provider_base_url,
                api_key=self.api_key,
                retry=self.provider_retry,
                llm_api=self.provider_llm_api,
            )
        return self._provider

    def agent_config(self, provider_kwargs: dict[str, Any] | None = None) -> AgentConfig:
        """What the agent asks of its model, as hooks and guardrails see it."""
        schema = self.output_schema
        return AgentConfig(
            name=self.id,
            provider=self.provider,
            model=self.model,
            tools=[
                {
                    "type": "function",
                    "name": t.id,
                    "description": t.description,
                    "parameters": t.parameters,
                }
                for t in self.tools
            ],
            system_prompt=self.system_prompt,
            max_output_tokens=self.max_output_tokens,
            temperature=self.temperature,
            provider_base_url=self.provider_base_url,
            provider_llm_api=self.provider_llm_api,
            provider_kwargs=provider_kwargs,
            output_schema=schema.model_json_schema() if schema is not None else None,
            output_schema_name=schema.__name__ if schema is not None else None,
            guardrail_max_retries=self.guardrail_max_retries,
        )

    def step_limit(self) -> int | None:
        """The most LLM calls of one run: ``max_steps=``, else none when a ``max_steps``
        stop condition is given (it decides), else ``POLOS_AGENT_MAX_STEPS`` or 10."""
        if self.max_steps is not None:
            return self.max_steps
        if any(condition_name(c) == "max_steps" for c in self.stop_conditions):
            return None
        return int(os.environ.get("POLOS_AGENT_MAX_STEPS") or DEFAULT_MAX_STEPS)

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
        input: str | list[Message] | list[dict[str, Any]],
        initial_state: Any = None,
        session_id: str | None = None,
        user_id: str | None = None,
        streaming: bool = False,
        run_timeout_seconds: int | None = None,
        **kwargs: Any,
    ) -> AgentInvocation:
        """This agent with an input, for ``batch_agent_invoke`` and ``ctx.step.agent_invoke*``."""
        return AgentInvocation.model_validate(
            {
                "agent_id": self.id,
                "input": input,
                "session_id": session_id,
                "user_id": user_id,
                "streaming": streaming,
                "initial_state": initial_state,
                "run_timeout_seconds": run_timeout_seconds,
                "provider_kwargs": kwargs,
            }
        )

    async def invoke(
        self,
        client: Any = None,
        payload: Any = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: bool = False,
        **options: Any,
    ) -> ExecutionHandle:
        """Queue a run and return its handle at once.

        ``payload`` is the input (text or messages) or, as in Polos, the
        whole payload: ``{"input": ..., "streaming": True, "provider_kwargs": {...}}``.
        """
        forbid_inside_workflow(f"{self.id}.invoke()")
        target, value = _split(client, payload)
        agent_input = (
            AgentInput.model_validate(value)
            if isinstance(value, dict | AgentInput)
            else AgentInput(input=value, streaming=stream)
        )
        if stream:
            agent_input.streaming = True
        # A misconfigured provider fails here, before anything is stored (LiteLLM's
        # names are checked by importing it: in a thread, as the run does).
        await import_provider_sdk(self.provider)
        self.llm_provider()
        handle: ExecutionHandle = await target.invoke(
            self, agent_input, session_id=session_id, user_id=user_id, **options
        )
        return handle

    async def run(  # type: ignore[override]
        self,
        client: Any = None,
        input: Any = None,
        initial_state: Any = None,
        session_id: str | None = None,
        user_id: str | None = None,
        timeout: float | None = 600.0,
        **kwargs: Any,
    ) -> AgentResult:
        """Run the agent and wait for its ``AgentResult``.

        Keywords other than the run's own (``queue``, ``concurrency_key``,
        ``priority``, ``idempotency_key``, ``run_timeout_seconds``) go to the
        model's API as ``provider_kwargs`` (``temperature``, ``top_p``...).
        """
        options, provider_kwargs = _split_options(kwargs)
        target, value = _split(client, input)
        handle = await self.invoke(
            target,
            _payload(value, streaming=False, provider_kwargs=provider_kwargs),
            session_id=session_id,
            user_id=user_id,
            initial_state=initial_state,
            **options,
        )
        result: AgentResult = await handle.result(target, timeout=timeout)
        return result

    async def stream(
        self,
        client: Any = None,
        input: Any = None,
        initial_state: Any = None,
        session_id: str | None = None,
        user_id: str | None = None,
        run_timeout_seconds: int | None = None,
        **kwargs: Any,
    ) -> StreamResult:
        """Start a run with ``"streaming": True`` and return its ``StreamResult``."""
        forbid_inside_workflow(f"{self.id}.stream()")
        options, provider_kwargs = _split_options(kwargs)
        target, value = _split(client, input)
        handle = await self.invoke(
            target,
            _payload(value, streaming=True, provider_kwargs=provider_kwargs),
            session_id=session_id,
            user_id=user_id,
            initial_state=initial_state,
            run_timeout_seconds=run_timeout_seconds,
            **options,
        )
        return StreamResult(handle, target)

    async def session_usage(self, client: Any, session_id: str) -> Usage:
        """Tokens used by every run of a session (summaries included)."""
        from ..runtime.client import store_of

        return (await load_session(await store_of(client), session_id)).usage


def _payload(value: Any, *, streaming: bool, provider_kwargs: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and "input" in value:
        return {**value, "streaming": streaming or bool(value.get("streaming"))}
    return {"input": value, "streaming": streaming, "provider_kwargs": provider_kwargs}


def _split_options(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {k: v for k, v in kwargs.items() if k in _RUN_OPTIONS and v is not None}
    return options, {k: v for k, v in kwargs.items() if k not in _RUN_OPTIONS}


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
