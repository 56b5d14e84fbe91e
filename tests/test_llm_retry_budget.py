"""An LLM step has one retry budget: the provider's, not the provider's times the step's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from offline import no_network  # noqa: F401  (autouse: no test reaches the network)
from polos import Agent, Polos, WorkflowFailedError
from polos.agents.providers.retry import RetryPolicy
from polos.testing import FakeOpenAIServer, Turn

PROVIDER_RETRIES = 3


def _agent(agent_id: str, **options: object) -> Agent:
    return Agent(  # type: ignore[arg-type]
        id=agent_id,
        provider="openai",
        model="gpt-test",
        provider_retry=RetryPolicy(max_retries=PROVIDER_RETRIES, base_delay=0.001, jitter=0),
        **options,
    )


budget_plain = _agent("budget_plain")
budget_judged = _agent("budget_judged", guardrails=["Never promise a refund"])


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        for agent in (budget_plain, budget_judged):
            agent.provider_base_url = server.base_url
            agent._provider = None
        yield server


async def test_a_failing_llm_step_makes_one_budget_of_calls(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(*[Turn.error(503, "overloaded")] * 20)
    handle = await budget_plain.invoke(polos, "hi")
    with pytest.raises(WorkflowFailedError, match="overloaded"):
        await handle.result(polos, timeout=60)
    assert len(llm.requests) == 1 + PROVIDER_RETRIES  # not doubled by a step retry


async def test_a_failing_guardrail_judge_makes_one_budget_of_calls(
    polos: Polos, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.reply("Here is your answer."), *[Turn.error(503, "overloaded")] * 20)
    handle = await budget_judged.invoke(polos, "hi")
    with pytest.raises(WorkflowFailedError, match="overloaded"):
        await handle.result(polos, timeout=60)
    assert len(llm.requests) == 1 + (1 + PROVIDER_RETRIES)  # the answer, then one judging
