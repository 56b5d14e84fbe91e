"""How fast the fake model servers answer, on one reused connection.

    .venv/bin/python bench/bench_fake_servers.py [--requests 200]

Each of the six paths (OpenAI Chat and Responses, Anthropic Messages;
streamed or not) answers a short text turn ``--requests`` times through the
real SDK on one client (so one kept-alive connection). Printed: the median
and p99 round trip, client work included, and the fake's own time per
request (``busy_seconds``: from the request's arrival to its last byte, on
average). Goal (issue 17): about a millisecond; a round trip above 40 ms
would be Nagle's algorithm meeting delayed ACKs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from polos.testing import FakeAnthropicServer, FakeOpenAIServer, Turn
from polos.testing._server import FakeServer

HI = [{"role": "user", "content": "hi"}]
WARM_UP = 5


async def timed(
    label: str, call: Callable[[], Awaitable[object]], requests: int, fake: FakeServer
) -> None:
    times = []
    busy = 0.0
    for i in range(requests + WARM_UP):
        if i == WARM_UP:
            busy = fake.busy_seconds
        start = time.perf_counter()
        await call()
        if i >= WARM_UP:
            times.append((time.perf_counter() - start) * 1000)
    server_ms = (fake.busy_seconds - busy) / requests * 1000
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    verdict = "PASS" if statistics.median(times) < 40 else "FAIL (Nagle?)"
    print(f"{label:<28}{statistics.median(times):>9.2f}{p99:>9.2f}{server_ms:>11.2f}  {verdict}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    turns = [Turn.reply("hello there, how are you")] * (4 * (n + WARM_UP))
    print(f"{'path':<28}{'median ms':>9}{'p99 ms':>9}{'fake ms':>11}")
    async with FakeOpenAIServer(turns) as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="bench", max_retries=0)

        async def chat_stream() -> None:
            stream = await client.chat.completions.create(model="m", messages=HI, stream=True)  # type: ignore[arg-type]
            async for _ in stream:
                pass

        async def responses_stream() -> None:
            stream = await client.responses.create(model="m", input="hi", stream=True)
            async for _ in stream:
                pass

        await timed(
            "openai chat", lambda: client.chat.completions.create(model="m", messages=HI), n, fake
        )  # type: ignore[arg-type]
        await timed("openai chat, streamed", chat_stream, n, fake)
        await timed(
            "openai responses", lambda: client.responses.create(model="m", input="hi"), n, fake
        )
        await timed("openai responses, streamed", responses_stream, n, fake)
        await client.close()
    async with FakeAnthropicServer([Turn.reply("hello there")] * (2 * (n + WARM_UP))) as fake:
        sdk = AsyncAnthropic(base_url=fake.base_url, api_key="bench", max_retries=0)

        async def messages_stream() -> None:
            async with sdk.messages.stream(model="m", max_tokens=10, messages=HI) as stream:  # type: ignore[arg-type]
                async for _ in stream:
                    pass

        await timed(
            "anthropic messages",
            lambda: sdk.messages.create(model="m", max_tokens=10, messages=HI),  # type: ignore[arg-type]
            n,
            fake,
        )
        await timed("anthropic messages, streamed", messages_stream, n, fake)
        await sdk.close()


if __name__ == "__main__":
    asyncio.run(main())
