"""What both OpenAI adapters share: building the client, reading its errors."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._http_pools import model_http_client
from ._sdk_errors import translated
from .base import PerLoopClient

if TYPE_CHECKING:
    from openai import AsyncOpenAI


def openai_clients(
    api_key: str, base_url: str | None, timeout: float | None
) -> PerLoopClient[AsyncOpenAI]:
    def new_client() -> AsyncOpenAI:
        # late: `import polos` stays light
        from openai import AsyncOpenAI, DefaultAioHttpClient, DefaultAsyncHttpxClient

        options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            # aiohttp when installed, else httpx over small pools: see _http_pools.
            "http_client": model_http_client(DefaultAioHttpClient, DefaultAsyncHttpxClient),
        }
        if timeout is not None:
            options["timeout"] = timeout
        # max_retries=0: our RetryPolicy is the only retry loop (see retry.py).
        return AsyncOpenAI(max_retries=0, **options)

    async def close(client: AsyncOpenAI) -> None:
        await client.close()

    return PerLoopClient(new_client, close)


def openai_errors(provider: str, model: str) -> AbstractContextManager[None]:
    import openai

    return translated(
        provider=provider, model=model, connection_errors=(openai.APIConnectionError,)
    )
