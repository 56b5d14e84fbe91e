"""The fleet's model calls with no engine: the floor under bench_agent_fleet.py.

    python bench/fleet_plain_client.py MODEL_URL RUNS TOOLS

Runs in a process of its own, as the fleet's worker does, and makes the same
model calls the fleet's agents make: RUNS concurrent conversations, each
TOOLS tool turns and a final answer, one call after another (after one
untimed warm-up conversation, numbered RUNS), through the
``openai`` SDK's ``chat.completions.create`` with the conversation growing as
an agent's does (the tool "runs" in place: it doubles a number). Nothing is
recorded anywhere. Prints one line of JSON: the wall time, the process's CPU
seconds, and how many answers were right.

The garbage collector is tuned as a Polos worker tunes it
(``polos.runtime.collector``), so that both sides run under the same
collector (for the SDK alone it made no difference beyond the noise: 17.5 to
23.2 s at Python's defaults, 17.9 to 20.9 s tuned, three runs each).

What this takes is what any Python program using the SDK pays for the same
calls on one core, so it bounds what a durable worker can reach; the fleet's
wall time over this one is what durability costs on top.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import openai

from polos.runtime.collector import tune_once

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "double",
            "description": "Doubles a number",
            "parameters": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "required": ["n"],
            },
        },
    }
]


async def conversation(client: openai.AsyncOpenAI, run: int, tools: int) -> str:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"run {run}"}]
    for _ in range(tools + 1):
        answer = await client.chat.completions.create(
            model="fleet",
            messages=messages,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
        )
        message = answer.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            n = json.loads(call.function.arguments)["n"]  # type: ignore[union-attr]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": str(n * 2)})
    return ""


async def main(model_url: str, runs: int, tools: int) -> None:
    # The SDK's own aiohttp transport (its ``aiohttp`` extra), as its docs
    # advise for many calls at once: httpx's pool does per-request bookkeeping
    # that grows with its connections, which at a thousand calls in flight
    # took 12 ms of CPU per call here.
    client = openai.AsyncOpenAI(
        base_url=model_url,
        api_key="bench",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )
    # One conversation first, untimed: the SDK's lazy imports and first
    # connection (the fleet's worker is up and warm before its runs come).
    await conversation(client, runs, tools)
    # The collector tuned as a worker tunes it at its start (freeze, young
    # threshold): what is compared is the SDK's work, not gc's defaults.
    tune_once()
    cpu, start = time.process_time(), time.perf_counter()
    answers = await asyncio.gather(*(conversation(client, run, tools) for run in range(runs)))
    wall = time.perf_counter() - start
    right = sum(
        answer == f"run {run}: {sum(2 * (run * 100 + k) for k in range(tools))}"
        for run, answer in enumerate(answers)
    )
    await client.close()
    print(json.dumps({"wall_s": wall, "cpu_s": time.process_time() - cpu, "right": right}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
