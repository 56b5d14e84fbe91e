"""A polos-sdk 0.1.15 workflow waiting for an agent (agent_invoke_and_wait), for
tests/test_polos_sdk_waits.py (SDK venv with the openai package). The agent's
OpenAI provider reads OPENAI_BASE_URL (the test's fake model server) and
OPENAI_API_KEY from the environment."""

from typing import Any

from sdk_worker_boot import run_worker

from polos import Agent, WorkflowContext, workflow
from polos.types.types import AgentResult

helper = Agent(
    id="sdkw_helper",
    provider="openai",
    model="gpt-4o-mini",
    system_prompt="You help.",
)


@workflow(id="sdkw_asks_agent")
async def asks_agent(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    got = await ctx.step.agent_invoke_and_wait("ask", helper.with_input(payload["question"]))
    return {
        "is_agent_result": isinstance(got, AgentResult),
        "result": got.result if isinstance(got, AgentResult) else got,
    }


if __name__ == "__main__":
    run_worker(workflows=[asks_agent], agents=[helper])
