"""``AgentContext``: the ``ctx`` an agent's hooks and guardrails receive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..engine.context import WorkflowContext
from ..engine.run import ExecutionRun

if TYPE_CHECKING:
    from .agent import Agent


class AgentContext(WorkflowContext):
    """A ``WorkflowContext`` that also says which agent runs and with which model."""

    def __init__(self, run: ExecutionRun, agent: Agent) -> None:
        super().__init__(run)
        self.agent_id: str = agent.id
        self.model: str = agent.model
        self.provider: str = agent.provider
        self.system_prompt: str | None = agent.system_prompt
        self.tools: list[Any] = list(agent.tools)
        self.temperature: float | None = agent.temperature
        self.max_tokens: int | None = agent.max_output_tokens

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = super().to_dict()
        data.update(
            model=self.model,
            provider=self.provider,
            system_prompt=self.system_prompt,
            tools=[getattr(t, "id", str(t)) for t in self.tools],
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
        return data
