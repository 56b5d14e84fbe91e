"""The interface every provider adapter implements, and what they share."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, Protocol, TypeVar, runtime_checkable

from .types import LLMRequest, LLMResponse, StreamChunk


@runtime_checkable
class Provider(Protocol):
    """One LLM provider bound to one model."""

    @property
    def name(self) -> str:
        """The adapter's name, as used in error messages (``openai-chat``...)."""
        ...

    @property
    def model(self) -> str:
        """The model used when a request does not name one."""
        ...

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the whole answer."""
        ...

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk | LLMResponse]:
        """Send ``request`` and yield text chunks as they arrive.

        The last item is always the complete ``LLMResponse`` (with the full
        text, tool calls and usage), so callers never reassemble chunks.
        """
        ...

    async def aclose(self) -> None:
        """Close the HTTP connections this provider opened in the running loop."""
        ...


C = TypeVar("C")


class PerLoopClient(Generic[C]):
    """One SDK client per event loop.

    An SDK client owns an httpx connection pool, and pooled connections are
    bound to the loop that opened them: sharing one client between loops (one
    per test, or a worker restarted in the same process) fails on reuse.
    Creating a client per call would instead pay for a new TLS context and
    connection every time.
    """

    def __init__(self, factory: Callable[[], C], close: Callable[[C], Awaitable[None]]):
        self._factory = factory
        self._close = close
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> C:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
        return client

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await self._close(client)


def request_model(request: LLMRequest, default: str) -> str:
    return request.model or default
