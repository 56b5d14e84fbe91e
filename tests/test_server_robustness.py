"""Every route of the OpenAPI document, sent junk, answers 2xx or a clear 4xx, never a 5xx,
on both backends: odd path parameters, bodies of every JSON shape, query values of the
wrong type, oversized names."""

from __future__ import annotations

import itertools
import random
import socket
import string
from typing import Any

import server_workflows  # noqa: F401
from polos import Polos
from polos.server import bind
from server_kit import serving

# Long names that do not compress (PostgreSQL compresses index entries: "ttt..." would fit).
_rng = random.Random(11)
LONG = "".join(_rng.choice(string.ascii_letters) for _ in range(5000))
PATH_VALUES = ["srv_echo", "x", "a%2Fb", "%00", "é" + LONG[:700], "-1"]
BODIES: list[Any] = [
    None,
    {},
    [],
    "text",
    7,
    {"payload": None},
    {"payload": {"nested": [1, {"a": None}]}, "priority": 2**70},
    {"topic": LONG, "events": [{"data": 1}]},
    {"topic": "t", "events": [{"event_type": LONG, "data": {"k": "\u0000"}}]},
    {"workflows": [{"workflow_id": "srv_echo", "payload": {}, "idempotency_key": LONG}]},
    {"payload": {}, "concurrency_key": LONG, "session_id": LONG, "user_id": LONG},
    {"payload": {}, "queue_name": LONG},
    {"payload": {}, "idempotency_key": LONG},
    {"workflow_id": "srv_echo", "cron": "* * * * *", "key": LONG},
    {"workflow_id": "srv_echo", "cron": "* * * * *", "timezone": LONG},
    {"data": {"approved": True}},
]
QUERY_VALUES = ["", "!", "-1", "99999999999999999999", "2026-13-45", LONG]


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            streams = any("text/event-stream" in r.get("content", {}) for r in responses.values())
            if not streams:  # a valid stream request would stay open: tested elsewhere
                out.append((method.upper(), path, operation))
    return out


def _paths(path: str) -> list[str]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    out = []
    for values in itertools.product(PATH_VALUES[:2], repeat=len(names)):
        filled = path
        for name, value in zip(names, values, strict=True):
            filled = filled.replace("{" + name + "}", value)
        out.append(filled)
    for value in PATH_VALUES[3:]:
        filled = path
        for name in names:
            filled = filled.replace("{" + name + "}", value)
        out.append(filled)
    return list(dict.fromkeys(out))


async def test_no_route_answers_5xx_to_junk(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        spec = (await s.http.get("/openapi.json")).json()
        failures = []
        count = 0
        for method, path, operation in _operations(spec):
            queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            for n, url in enumerate(_paths(path)):
                attempts: list[dict[str, Any]] = [{}]
                if n == 0:  # every body and query on the first (plausible) path only
                    if method in ("POST", "PUT"):
                        attempts += [{"json": body} for body in BODIES]
                        attempts.append({"content": b"\xff\xfe not utf-8"})
                    if queries:
                        attempts += [{"params": dict.fromkeys(queries, v)} for v in QUERY_VALUES]
                for kwargs in attempts:
                    r = await s.http.request(method, url, **kwargs)
                    count += 1
                    if r.status_code >= 500:
                        failures.append((method, url[:80], str(kwargs)[:120], r.text[:300]))
                    elif r.status_code >= 400 and "json" in r.headers.get("content-type", ""):
                        assert r.json()["error"], (method, url, r.text)
        assert count > 200
        assert not failures, "\n".join(map(str, failures))


def test_the_listening_socket_says_tcp_so_asyncio_turns_nagle_off() -> None:
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; without
    # it each small answer on a reused connection waited ~40 ms for a delayed ACK.
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
