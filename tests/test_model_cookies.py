"""Model clients keep no cookies: a model API's Set-Cookie is never sent back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from polos.agents.providers import LLMRequest, Message, OpenAIChatProvider

_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


class _CookieSetter(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cookies_received: list[str | None] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).cookies_received.append(self.headers.get("Cookie"))
        body = json.dumps(_ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "__cf_bm=abc; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def cookie_server() -> Iterator[str]:
    _CookieSetter.cookies_received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieSetter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_cookie_a_model_api_sets_is_not_sent_back(cookie_server: str) -> None:
    provider = OpenAIChatProvider("m", api_key="k", base_url=cookie_server)
    request = LLMRequest(messages=[Message(role="user", content="hi")])
    try:
        first = await provider.complete(request)
        second = await provider.complete(request)
    finally:
        await provider.aclose()
    assert (first.text, second.text) == ("hello", "hello")
    assert _CookieSetter.cookies_received == [None, None]


async def test_responses_are_not_searched_for_cookies(
    cookie_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx hands every response to its client's Cookies, which wraps request
    # and response for the jar even when the jar keeps nothing: a cost per call.
    import httpx

    searched: list[object] = []
    original = httpx.Cookies.extract_cookies

    def counting(self: httpx.Cookies, response: httpx.Response) -> None:
        searched.append(response)
        original(self, response)

    monkeypatch.setattr(httpx.Cookies, "extract_cookies", counting)
    provider = OpenAIChatProvider("m", api_key="k", base_url=cookie_server)
    request = LLMRequest(messages=[Message(role="user", content="hi")])
    try:
        answer = await provider.complete(request)
    finally:
        await provider.aclose()
    assert answer.text == "hello"
    assert searched == []
