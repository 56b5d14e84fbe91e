"""The server keeps an idle connection open longer than clients keep theirs.

With uvicorn's default (5 s, httpx's default expiry too) server and client
gave up on an idle connection at the same moment: a request sent on it as the
server closed it failed with a read error. Now the client is the one to close.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from polos.runtime.remote import KEEPALIVE_EXPIRY
from polos.server.serve import KEEP_ALIVE_SECONDS
from server_kit import serving

_GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), 10)
    return head


async def test_an_idle_connection_outlives_the_clients_expiry(tmp_path: Path) -> None:
    assert KEEPALIVE_EXPIRY + 10 < KEEP_ALIVE_SECONDS
    async with serving(f"sqlite:///{tmp_path}/keepalive.db") as s:
        host, port = s.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(_GET_HEALTH)
            assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(6.0)  # past uvicorn's default of 5 s
            writer.write(_GET_HEALTH)  # the same connection, idle all that time
            assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
        finally:
            writer.close()
