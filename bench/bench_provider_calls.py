"""What one model call costs the caller, by provider adapter and conversation length.

    .venv/bin/python bench/bench_provider_calls.py [--calls 10] [--sizes 20,200,2000]

Each adapter (OpenAI Chat, OpenAI Responses, Anthropic; not streamed)
answers ``--calls`` requests carrying a conversation of each size from its
fake server, after one untimed call (the client made, the connection
open). Printed per call: the wall time, the fake's own time (its
``busy_seconds``, from a request's arrival to its last byte) and what is
left, the adapter's and its SDK's work. Every request is a new
``LLMRequest``, so the conversation is converted in full on each call (a
held agent run converts only what each turn added).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from polos.agents.providers import LLMRequest, Message, get_provider
from polos.testing import FakeAnthropicServer, FakeOpenAIServer, Turn
from polos.testing._server import FakeServer

KINDS = ("openai-chat", "openai-responses", "anthropic")


def conversation(size: int) -> list[Message]:
    """``size`` alternating turns after a first question, ending on a question."""
    messages = [Message.user("hi")]
    for i in range(size):
        text = f"turn {i} " * 5
        messages.append(Message.assistant(text) if i % 2 == 0 else Message.user(text))
    if messages[-1].role != "user":
        messages.append(Message.user("and now?"))
    return messages


async def one_case(kind: str, size: int, calls: int) -> tuple[float, float]:
    """Wall ms and the fake's ms per call."""
    fake: FakeServer = (
        FakeAnthropicServer([Turn.reply("ok")] * (calls + 1))
        if kind == "anthropic"
        else FakeOpenAIServer([Turn.reply("ok")] * (calls + 1))
    )
    messages = conversation(size)
    async with fake:
        provider = get_provider(kind, "m", fake.base_url, api_key="bench")
        try:
            await provider.complete(LLMRequest(messages=messages))
            busy = fake.busy_seconds
            start = time.perf_counter()
            for _ in range(calls):
                await provider.complete(LLMRequest(messages=messages))
            wall = time.perf_counter() - start
        finally:
            await provider.aclose()
    return wall / calls * 1000, (fake.busy_seconds - busy) / calls * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--sizes", default="20,200,2000")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    print(f"{'adapter':<18}{'messages':>9}{'wall ms':>10}{'fake ms':>10}{'client ms':>11}")
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in KINDS:
            wall, fake = await one_case(kind, size, args.calls)
            print(f"{kind:<18}{size:>9}{wall:>10.2f}{fake:>10.2f}{wall - fake:>11.2f}")


if __name__ == "__main__":
    asyncio.run(main())
