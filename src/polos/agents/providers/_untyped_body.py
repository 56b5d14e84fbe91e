"""Send OpenAI and Anthropic requests with a body we encode, past the SDK's
type walk and encoder.

``chat.completions.create`` and ``responses.create`` walk every request body
against the SDK's TypedDict annotations (to rename aliased keys and format
dates or files), then encode it with the standard ``json`` module. No field
we send has an alias or a format, so the walk hands the body back unchanged,
yet both are paid on every model call and both grow with the conversation,
which a stateless API takes in full each time: the walk cost ~150 ms per call
at 200 messages (O(N^2) per N-turn agent run, before ``877a7a9`` moved the
conversation into ``extra_body``), and ``json.dumps`` still cost ~3 ms at
2,000 messages, where ``orjson`` takes ~0.2 ms.

The anthropic SDK's ``messages.create`` (and ``.stream``) copies the whole body, extra_body
included, field by field before every call, then encodes it with ``json``
and builds its pydantic models of the answer: at 2,000 messages a call took
9.7 ms against the fake server, 4.3 ms posted this way.

So the adapters post the body themselves through the client's own
``post(path, cast_to=..., content=...)``: the same client, headers,
authentication, timeouts, error types and response parsing as ``create``;
only the body is ours. ``extra_body`` entries are merged last, as the SDK
would merge them. Both SDKs are generated from one template, so the same
calls fit both; each is used with its own HTTP library (``httpx`` for
openai, ``httpx2`` for anthropic 2.x).
"""

from __future__ import annotations

import importlib
import sys
import weakref
from typing import Any

import orjson

from ._direct_lane import DirectLane, lane_for


def json_body(params: dict[str, Any]) -> bytes:
    """``params`` (``create``'s keyword arguments) as the JSON request body."""
    body = {key: value for key, value in params.items() if key != "extra_body"}
    body.update(params.get("extra_body") or {})
    return orjson.dumps(body)


async def post(client: Any, path: str, body: bytes) -> Any:
    """``POST path`` with ``body`` on an ``AsyncOpenAI`` or ``AsyncAnthropic``
    client; the answer's JSON, read by attribute as the SDK's models are
    (``answer.choices[0].message.content``).

    The SDK would build its pydantic models of the answer field by field
    (about a quarter of a millisecond per call, a tenth of the client's
    work); the adapters read a handful of fields once, so the JSON is
    parsed with orjson and read through :class:`JsonView`. Errors are the
    SDK's as before: a status error is raised before any parsing.
    """
    route = _route(client, path)
    if route is not None and route[1] is not None:  # straight onto aiohttp: see _direct_lane
        return view(orjson.loads(await route[1].post(body)))
    http = _http_module(client)
    if route is None:
        response = await client.post(path, cast_to=http.Response, content=body)
    else:
        options = route[0].model_copy(update={"content": body})
        response = await client.request(http.Response, options)
    return view(orjson.loads(response.content))


def _http_module(client: Any) -> Any:
    """The HTTP library ``client`` is built on (``httpx`` or ``httpx2``), already imported."""
    return sys.modules[type(client.base_url).__module__.split(".")[0]]


#: Per client: its base URL when the routes were made, and the route by path.
_routes: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, tuple[Any, DirectLane | None]]]] = (
    weakref.WeakKeyDictionary()
)


def _route(client: Any, path: str) -> tuple[Any, DirectLane | None] | None:
    """How ``POST path`` goes on ``client``: the SDK's request options (absolute URL,
    no body) and, where it may be used, the direct lane; made once per client and
    path. ``None`` where the SDK has no such options class (then ``post``).

    ``post`` builds them afresh on every call (``FinalRequestOptions.construct``
    deep-copies each field's default), and the client joins the path to its base
    URL, parsing both again: ~0.1 ms of the ~0.6 ms the SDK and httpx take per
    call on this machine. The SDK copies the options it is given before it
    touches them (its idempotency key, headers), so one copy per call with the
    body set is what it would have built.
    """
    base = client.base_url
    known = _routes.get(client)
    if known is None or known[0] is not base:
        known = (base, {})
        _routes[client] = known
    route = known[1].get(path)
    if route is None:
        sdk = type(client).__module__.split(".")[0]  # openai or anthropic
        try:
            FinalRequestOptions = importlib.import_module(f"{sdk}._models").FinalRequestOptions
        except (ImportError, AttributeError):  # pragma: no cover - the pinned SDKs have it
            return None
        # A base URL with a query string: the SDK's own joining, on each call.
        # Else an httpx.URL, parsed here once: the SDK and httpx each make a
        # URL of what they are given, and from a URL that is a copy, where
        # parsing a string again was ~2% of the loop's CPU per tool call.
        url: Any = (
            path if base.query else type(base)(str(base).rstrip("/") + "/" + path.lstrip("/"))
        )
        options = FinalRequestOptions.construct(method="post", url=url)
        route = known[1][path] = (options, lane_for(client, options))
    return route


class JsonView:
    """A JSON object read by attribute; a missing key reads as ``None``."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        return view(self._data.get(name))


def view(value: Any) -> Any:
    """``value`` with its objects readable by attribute."""
    if isinstance(value, dict):
        return JsonView(value)
    if isinstance(value, list):
        return [view(item) for item in value]
    return value


async def post_stream(
    client: Any, path: str, body: bytes, cast_to: type[Any], stream_cls: type[Any]
) -> Any:
    """``POST path`` with ``body`` (which asks for a stream), read as ``stream_cls``."""
    return await client.post(
        path, cast_to=cast_to, content=body, stream=True, stream_cls=stream_cls
    )


def raw(value: Any) -> Any:
    """The JSON under a :class:`JsonView` (an SDK model's field as it is)."""
    return value._data if isinstance(value, JsonView) else value
