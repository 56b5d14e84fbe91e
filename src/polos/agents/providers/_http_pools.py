"""The HTTP transport model calls go over: aiohttp when installed, else pooled httpx.

The openai SDK's own ``aiohttp`` extra (``httpx-aiohttp``, pinned in our
``agents`` extra) sends its requests over aiohttp: per call that took about
half the client CPU of httpx's own transport (0.9 ms against 1.4 to 2.2 ms
for a small chat call against the fake server on this machine), and its
connection pool keeps no per-connection bookkeeping on each request. Where
it is not installed, calls go over httpx, spread over several small pools:


httpcore's connection pool does bookkeeping quadratic in its number of
connections on every request start and finish (for each connection it counts
all of them, and checks each idle socket). With hundreds of model calls in
flight in one worker (a fleet of agents waiting on a slow model), that
bookkeeping took more than half of the worker's CPU. Pools of a few dozen
connections keep it small: a new pool opens only when every open one has
``per_pool`` requests in flight, so a process with few calls keeps one pool.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx

C = TypeVar("C")

#: Requests in flight on one pool before the next pool opens.
PER_POOL = 32
_tls: ssl.SSLContext | None = None


def default_tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every model client in the process.

    Loading the CA bundle takes ~20 ms, and each provider made its own in
    each event loop: the first model call of every run in a fresh worker
    loop, or of every test, paid it. A context may serve many connections,
    threads and loops at once."""
    global _tls
    if _tls is None:
        _tls = httpx.create_ssl_context()
    return _tls


_cookieless_classes: dict[type, type] = {}


def cookieless(client_class: type[C], cookies_class: type[Any]) -> type[C]:
    """``client_class`` (an httpx or httpx2 client) that never reads a response's cookies.

    Model APIs authenticate with a header and keep no session; the cookies
    some send anyway (a CDN's bot-management ones) are never needed back.
    Reading them is not free: for every response the client wraps request
    and response in ``urllib`` and ``email`` stand-ins for its cookie jar,
    about 3.5% of a worker's CPU per agent tool call, even when the jar then
    keeps nothing. Here the client's ``cookies`` (the object each response
    is handed to) ignores what it is given, and stays empty, so none is
    ever sent either."""
    made = _cookieless_classes.get(client_class)
    if made is None:

        class Inert(cookies_class):  # type: ignore[misc]
            def extract_cookies(self, response: Any) -> None:
                return None

            def set(self, *args: Any, **kwargs: Any) -> None:
                return None

        class Cookieless(client_class):  # type: ignore[misc,valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._polos_cookies = Inert(http.cookiejar.CookieJar())

            @property
            def cookies(self) -> Any:
                return self._polos_cookies

            @cookies.setter
            def cookies(self, value: Any) -> None:
                return None

        made = _cookieless_classes[client_class] = Cookieless
    return made


def model_http_client(
    aiohttp_client: type[httpx.AsyncClient],
    httpx_client: type[httpx.AsyncClient],
) -> httpx.AsyncClient:
    """An SDK's HTTP client (given its ``DefaultAioHttpClient`` and
    ``DefaultAsyncHttpxClient`` classes) on the fastest transport installed."""
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        return cookieless(httpx_client, httpx.Cookies)(transport=PooledTransport())
    return cookieless(aiohttp_client, httpx.Cookies)(transport=_aiohttp_transport())


def anthropic_http_client() -> Any:
    """An HTTP client for the anthropic SDK over aiohttp, or ``None`` (the SDK's own).

    anthropic 2.x is built on ``httpx2``, not ``httpx``, so the transport above
    does not fit it; the SDK ships its own copy of httpx-aiohttp for ``httpx2``
    behind ``DefaultAioHttpClient`` (its ``aiohttp`` extra), which already
    reports a refused connection as a connection error, not a timeout. Same
    process-wide TLS context, no cap on connections and no cookies, as for OpenAI."""
    try:
        import aiohttp  # noqa: F401
        import httpx2
        from anthropic import DefaultAioHttpClient

        return cookieless(DefaultAioHttpClient, httpx2.Cookies)(
            verify=default_tls_context(), limits=httpx2.Limits(max_connections=0)
        )
    except (ImportError, RuntimeError):  # RuntimeError: the SDK without its aiohttp copy
        return None


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    class Transport(AiohttpTransport):
        """httpx-aiohttp 0.2 reports every aiohttp connection error as a connect
        *timeout* (a refused connection read "Request timed out"): only a real
        timeout stays one here; the rest are connection errors, as httpx has them.

        Proxies: an httpx client given a transport ignores ``HTTP_PROXY``,
        ``HTTPS_PROXY`` and ``NO_PROXY``, which the SDK's own client honours,
        so this transport reads them, once per origin (aiohttp's own
        ``trust_env`` reads the environment and ``~/.netrc`` again on every
        request: ~0.2-0.4 ms of CPU per call)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._proxies: dict[str, httpx.Proxy | None] = {}

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            # The base reads self.proxy before its first await, so concurrent
            # requests to other origins cannot swap it under this one.
            self.proxy = self.proxy_for(request.url)
            try:
                return await super().handle_async_request(request)
            except httpx.TimeoutException as exc:
                cause = exc.__cause__
                if cause is None or isinstance(cause, asyncio.TimeoutError):
                    raise
                kind = (
                    httpx.ConnectError
                    if isinstance(cause, aiohttp.ClientConnectorError)
                    else httpx.ReadError
                )
                raise kind(f"{type(cause).__name__}: {cause}", request=request) from cause

        def proxy_for(self, url: httpx.URL) -> httpx.Proxy | None:
            """The proxy the environment names for ``url``, or ``None``."""
            origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
            if origin not in self._proxies:
                self._proxies[origin] = environment_proxy(url)
            return self._proxies[origin]

        def polos_session(self) -> aiohttp.ClientSession:
            """The aiohttp session this transport sends on, made as the transport
            makes it on its first request (``_direct_lane`` sends on it too)."""
            if not isinstance(self.client, aiohttp.ClientSession):
                self.client = self.get_client()
            return self.client

    # max_connections 0: aiohttp opens as many connections as there are calls in
    # flight (a fleet of agents waiting on a slow model); its default queues past 100.
    return Transport(verify=default_tls_context(), limits=httpx.Limits(max_connections=0))


def environment_proxy(url: httpx.URL) -> httpx.Proxy | None:
    """The proxy ``HTTP_PROXY`` / ``HTTPS_PROXY`` (or ``ALL_PROXY``) name for
    ``url``, unless ``NO_PROXY`` exempts its host, as httpx reads them.

    Only an HTTP(S) proxy: aiohttp speaks no SOCKS, and model calls went
    straight to the host before proxies were honoured at all, so a SOCKS
    ``ALL_PROXY`` keeps them that way rather than failing them."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    if not proxy.lower().startswith(("http://", "https://")):
        return None
    return httpx.Proxy(proxy)


class PooledTransport(httpx.AsyncBaseTransport):
    def __init__(self, per_pool: int | None = None) -> None:
        self.per_pool = per_pool or PER_POOL
        self.pools: list[httpx.AsyncHTTPTransport] = []
        self.busy: list[int] = []
        self._ssl: ssl.SSLContext | None = None

    def _pick(self) -> int:
        if self.pools:
            index = min(range(len(self.pools)), key=self.busy.__getitem__)
            if self.busy[index] < self.per_pool:
                return index
        if self._ssl is None:  # one TLS context for all pools: loading it is slow
            self._ssl = default_tls_context()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=self.per_pool)
        self.pools.append(httpx.AsyncHTTPTransport(verify=self._ssl, limits=limits))
        self.busy.append(0)
        return len(self.pools) - 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._pick()
        self.busy[index] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.busy[index] -= 1

        try:
            response = await self.pools[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        # The connection stays taken until the body is read and closed.
        response.stream = _Releasing(response.stream, release)
        return response

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


class _Releasing(httpx.AsyncByteStream):
    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], None]
    ):
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            if isinstance(self._stream, httpx.AsyncByteStream):
                await self._stream.aclose()
        finally:
            self._release()
