"""Non-streamed OpenAI calls go straight onto aiohttp (see providers/_direct_lane.py).

What the server receives and what the caller gets back must be what the
openai SDK's own path gives: the same headers, the SDK's errors translated
as before, its timeouts; and where the SDK's client would send through a
proxy, the call still does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from offline import no_network  # noqa: F401  (autouse: no test reaches the network)
from polos.agents.providers import LLMRequest, Message, get_provider
from polos.agents.providers.errors import ProviderUnavailableError
from polos.agents.providers.retry import RetryPolicy
from polos.testing import FakeOpenAIServer, Turn

PATHS = {"openai-chat": "/chat/completions", "openai-responses": "/responses"}
#: Headers that describe one request's bytes (length, the encodings aiohttp decodes).
PER_REQUEST = {"content-length", "accept-encoding"}


def ask(text: str = "Hello?") -> LLMRequest:
    return LLMRequest(messages=[Message.user(text)])


class SendCounter:
    """Counts requests that go through httpx (the openai SDK's own path)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = httpx.AsyncClient.send

        async def send(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await real(client, *args, **kwargs)

        monkeypatch.setattr(httpx.AsyncClient, "send", send)


@pytest.mark.parametrize("kind", list(PATHS))
async def test_a_direct_call_sends_what_the_sdk_would(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends = SendCounter(monkeypatch)
    async with FakeOpenAIServer([Turn.reply("direct"), Turn.reply("sdk")]) as server:
        provider = get_provider(kind, "fake-model", server.base_url)
        try:
            assert (await provider.complete(ask())).text == "direct"
            assert sends.count == 0  # not through httpx
            client = provider._clients.get()  # type: ignore[attr-defined]
            via_sdk = await client.post(
                PATHS[kind], cast_to=httpx.Response, content=b'{"model": "fake-model"}'
            )
            assert via_sdk.status_code == 200 and sends.count == 1
        finally:
            await provider.aclose()
    direct, sdk = (dict(r.headers) for r in server.requests)
    assert direct["authorization"] == f"Bearer {client.api_key}"
    assert direct["x-stainless-retry-count"] == "0"
    assert {k: v for k, v in direct.items() if k not in PER_REQUEST} == {
        k: v for k, v in sdk.items() if k not in PER_REQUEST
    }


async def test_a_model_slower_than_the_timeout_is_a_timeout_and_is_retried() -> None:
    async with FakeOpenAIServer([Turn.reply("late")] * 2, latency=2.0) as server:
        provider = get_provider(
            "openai-chat",
            "fake-model",
            server.base_url,
            retry=RetryPolicy(max_retries=1, base_delay=0.01, jitter=0),
            timeout=0.3,
        )
        try:
            with pytest.raises(ProviderUnavailableError) as caught:
                await provider.complete(ask())
        finally:
            await provider.aclose()
    assert caught.value.attempts == 2
    assert "APITimeoutError" in str(caught.value) and "timed out" in str(caught.value)


@contextlib.asynccontextmanager
async def http_proxy() -> AsyncIterator[list[str]]:
    """A plain-HTTP forward proxy on 127.0.0.1; yields the request lines it forwarded."""
    forwarded: list[str] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode().split("\r\n")
        method, target, version = request_line.split(" ")
        url = httpx.URL(target)  # absolute-form: http://host:port/path
        forwarded.append(f"{method} {url}")
        # One request per connection: the server closes after answering, so
        # the client's next request comes here as a new connection.
        kept = [line for line in lines if line and "connection:" not in line.lower()]
        upstream_reader, upstream = await asyncio.open_connection(url.host, url.port)
        origin_form = f"{method} {url.raw_path.decode()} {version}"
        upstream.write("\r\n".join([origin_form, *kept, "Connection: close", "", ""]).encode())
        await asyncio.gather(pipe(reader, upstream), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        env.delenv("NO_PROXY", raising=False)
        env.delenv("no_proxy", raising=False)
        try:
            yield forwarded
        finally:
            server.close()


async def test_a_proxy_in_the_environment_still_carries_the_calls() -> None:
    turns = [Turn.reply("one"), Turn.reply("two")]
    async with FakeOpenAIServer(turns) as server, http_proxy() as forwarded:
        provider = get_provider("openai-chat", "fake-model", server.base_url)
        try:
            assert (await provider.complete(ask())).text == "one"
            assert (await provider.complete(ask())).text == "two"
        finally:
            await provider.aclose()
    assert forwarded == [f"POST {server.base_url}/chat/completions"] * 2
    assert len(server.requests) == 2


async def test_a_streamed_call_goes_through_the_proxy_too() -> None:
    async with FakeOpenAIServer([Turn.reply("streamed")]) as server, http_proxy() as forwarded:
        provider = get_provider("openai-chat", "fake-model", server.base_url)
        try:
            items = [item async for item in provider.stream(ask())]
        finally:
            await provider.aclose()
    assert getattr(items[-1], "text", None) == "streamed"
    assert forwarded == [f"POST {server.base_url}/chat/completions"]


async def test_no_proxy_exempts_the_model_host() -> None:
    async with FakeOpenAIServer([Turn.reply("direct")]) as server, http_proxy() as forwarded:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("NO_PROXY", "127.0.0.1")
            provider = get_provider("openai-chat", "fake-model", server.base_url)
            try:
                assert (await provider.complete(ask())).text == "direct"
            finally:
                await provider.aclose()
    assert forwarded == []
    assert len(server.requests) == 1


async def test_a_closed_provider_leaves_no_client_behind() -> None:
    import gc
    import weakref

    async with FakeOpenAIServer([Turn.reply("once")]) as server:
        provider = get_provider("openai-chat", "fake-model", server.base_url)
        assert (await provider.complete(ask())).text == "once"
        client = weakref.ref(provider._clients.get())  # type: ignore[attr-defined]
        await provider.aclose()
    del provider
    gc.collect()
    assert client() is None


async def test_a_socks_proxy_in_the_environment_leaves_model_calls_direct() -> None:
    # aiohttp speaks no SOCKS: a SOCKS ALL_PROXY (set for other tools) must
    # not fail the model calls that went straight to the host before.
    async with FakeOpenAIServer([Turn.reply("direct")]) as server:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
            env.delenv("NO_PROXY", raising=False)
            env.delenv("no_proxy", raising=False)
            provider = get_provider("openai-chat", "fake-model", server.base_url)
            try:
                assert (await provider.complete(ask())).text == "direct"
            finally:
                await provider.aclose()
    assert len(server.requests) == 1
