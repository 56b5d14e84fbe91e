"""A non-streamed OpenAI call sent straight onto the client's own aiohttp session.

With the body already encoded (``_untyped_body``), what the openai SDK and
httpx still do per call is bookkeeping around one ``POST``: the SDK copies
its request options twice and rebuilds the same headers, httpx merges them
into a request and runs its auth and redirect loops, the httpx-aiohttp
transport converts that request for aiohttp and the answer back into an
httpx response, which the SDK checks and hands on. On a held agent run that
was about a fifth of the event loop's CPU per tool call, the biggest share
not spent in the store.

The SDK still decides everything about the request: the URL, the headers
and the timeouts are read from a request the SDK builds once per client and
path (:func:`lane_for`), and every refusal is the SDK's own exception
(``APIStatusError`` and its subclasses from the SDK's own mapping,
``APITimeoutError``, ``APIConnectionError``). Only the sending is ours, and
only where nothing could differ per call: a plain ``AsyncOpenAI`` with a
fixed API key (no key provider, workload identity, provider runtime or
custom auth), on the aiohttp transport ``_http_pools`` made for it, through
the proxy that transport would use. Anything else goes through the SDK as
before.
"""

from __future__ import annotations

import weakref
from typing import Any

#: Response headers that describe the bytes on the wire, not the decoded body
#: an error response is rebuilt with.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
#: Request headers aiohttp sets itself for each request.
_OWN_HEADERS = frozenset({"content-length", "host", "transfer-encoding"})


class DirectLane:
    """``POST`` of an encoded body to one path of one client; see the module docstring."""

    __slots__ = ("_client", "_client_error", "_options", "_request", "_transport", "_url")

    def __init__(self, client: Any, request: Any, transport: Any) -> None:
        from aiohttp import BasicAuth, ClientError, ClientTimeout

        # Kept here: an import statement in post() is paid on every call.
        self._client_error = ClientError

        # Weak: the lane is cached in a weak dictionary keyed by this client.
        self._client = weakref.ref(client)
        self._request = request  # the SDK's own, for its exceptions
        self._transport = transport
        self._url = str(request.url)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _OWN_HEADERS}
        # aiohttp decodes these two itself; httpx may also offer br or zstd.
        headers["accept-encoding"] = "gzip, deflate"
        timeout = request.extensions.get("timeout", {})
        proxy = transport.proxy_for(request.url)
        # What the httpx-aiohttp transport the SDK path goes through would pass.
        self._options: dict[str, Any] = {
            "headers": headers,
            "timeout": ClientTimeout(
                sock_connect=timeout.get("connect"),
                sock_read=timeout.get("read"),
                connect=timeout.get("pool"),
            ),
            "proxy": None if proxy is None else str(proxy.url),
            "proxy_auth": None if proxy is None or not proxy.auth else BasicAuth(*proxy.auth),
            "proxy_headers": None if proxy is None else proxy.headers,
        }

    async def post(self, body: bytes) -> bytes:
        """The answer's body; a status other than 2xx raises the SDK's status error."""
        session = self._transport.polos_session()
        try:
            async with session.request("POST", self._url, data=body, **self._options) as answer:
                content: bytes = await answer.read()
                status = answer.status
                raw_headers = answer.raw_headers
        except TimeoutError as exc:  # aiohttp's own are TimeoutErrors
            from openai import APITimeoutError

            raise APITimeoutError(request=self._request) from exc
        except self._client_error as exc:
            from openai import APIConnectionError

            raise APIConnectionError(
                message=f"Connection error: {type(exc).__name__}: {exc}", request=self._request
            ) from exc
        if not 200 <= status < 300:
            raise self._status_error(status, raw_headers, content)
        return content

    def _status_error(self, status: int, raw_headers: Any, content: bytes) -> Exception:
        import httpx

        headers = [(k, v) for k, v in raw_headers if k.decode().lower() not in _WIRE_HEADERS]
        response = httpx.Response(status, headers=headers, content=content, request=self._request)
        client = self._client()
        if client is None:  # pragma: no cover - the caller holds its client
            return httpx.HTTPStatusError(f"HTTP {status}", request=self._request, response=response)
        error: Exception = client._make_status_error_from_response(response)
        return error


def lane_for(client: Any, options: Any) -> DirectLane | None:
    """The direct lane for ``client`` and ``options`` (the SDK's options for one
    path, without a body), or ``None`` where the call must go through the SDK."""
    kind = type(client)
    # Only openai's own class: Azure and other subclasses build their own URLs,
    # and anthropic's client authenticates in more ways (its post goes through the SDK).
    if kind.__qualname__ != "AsyncOpenAI" or kind.__module__.split(".")[0] != "openai":
        return None
    for private in ("_api_key_provider", "_workload_identity_auth", "_provider_runtime"):
        if getattr(client, private, None) is not None:
            return None
    if client.custom_auth is not None or getattr(client, "_idempotency_header", None):
        return None
    try:
        request = client._build_request(options.model_copy(update={"content": b""}))
        transport = client._client._transport_for_url(request.url)
    except (AttributeError, TypeError):  # an SDK or httpx without these: the SDK's way
        return None
    if not hasattr(transport, "polos_session"):  # a mounted transport, or httpx's own
        return None
    return DirectLane(client, request, transport)
