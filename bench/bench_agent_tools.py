"""Cost of an agent's tool calls as their number grows: O(N), not O(N^2).

    .venv/bin/python bench/bench_agent_tools.py [--database-url URL]

An agent against the fake OpenAI server makes N tool calls, one per turn
(each a durable child workflow), then answers. Printed: time per tool call at
N=10 and N=200, with parked runs held in memory (the default) and without
(every tool batch replays the run from the top, as Polos does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from polos import Agent, Polos, WorkflowContext, tool
from polos.testing import FakeOpenAIServer, Turn


class Ping(BaseModel):
    n: int


@tool(description="Returns its input")
async def ping(ctx: WorkflowContext, input: Ping) -> int:
    return input.n


pinger = Agent(id="bench_pinger", provider="openai", model="bench", tools=[ping], max_steps=1000)


async def per_tool_call(url: str, calls: int, hold_seconds: float) -> float:
    turns = [Turn.call("ping", {"n": i}) for i in range(calls)] + [Turn.reply("done")]
    with FakeOpenAIServer(turns) as server:
        pinger.provider_base_url, pinger._provider = server.base_url, None
        async with Polos(
            database_url=url, workflows=[pinger, ping], hold_seconds=hold_seconds
        ) as polos:
            start = time.perf_counter()
            result = await pinger.run(polos, "ping away", timeout=600)
            elapsed = time.perf_counter() - start
    assert len(result.tool_calls) == calls
    return elapsed / calls


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for hold in (10.0, 0.0):
            for n in (10, 200):
                url = args.database_url or f"sqlite:///{Path(tmp) / f'agent-{hold}-{n}.db'}"
                rows.append((hold, n, await per_tool_call(url, n, hold)))
    print(f"{'held in memory':<16}{'N':>6}{'ms per tool call':>20}")
    for hold, n, seconds in rows:
        print(f"{'yes' if hold else 'no (replay)':<16}{n:>6}{seconds * 1000:>20.2f}")
    by = {(h, n): s for h, n, s in rows}
    print(
        f"growth N=10 -> N=200, held: {by[(10.0, 200)] / by[(10.0, 10)]:.2f}x; "
        f"replaying: {by[(0.0, 200)] / by[(0.0, 10)]:.2f}x"
    )


if __name__ == "__main__":
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    asyncio.run(main())
