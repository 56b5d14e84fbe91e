"""The floor for bench_sse.py: the same three routes on the same Starlette and
uvicorn, broadcasting events from a list in memory, with no database at all.

    python bench/sse_reference_app.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

log: list[bytes] = []  # log[i] is the frame of sequence id i + 1
published = asyncio.Condition()


async def health(request: Request) -> Response:
    return JSONResponse({"status": "healthy"})


async def publish(request: Request) -> Response:
    body = await request.json()
    ids = []
    async with published:
        for event in body["events"]:
            seq = len(log) + 1
            data = {"sequence_id": seq, "topic": body["topic"], "data": event.get("data")}
            log.append(b"id: %d\ndata: %s\n\n" % (seq, json.dumps(data).encode()))
            ids.append(seq)
        published.notify_all()
    return JSONResponse({"sequence_ids": ids})


async def stream(request: Request) -> Response:
    after = int(request.headers.get("last-event-id") or request.query_params["last_sequence_id"])

    async def frames(sent: int) -> AsyncIterator[bytes]:
        yield b": stream open\n\n"
        while True:
            async with published:
                while len(log) <= sent:
                    await published.wait()
            while sent < len(log):
                sent += 1
                yield log[sent - 1]

    return StreamingResponse(frames(after), media_type="text/event-stream")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/v1/events/publish", publish, methods=["POST"]),
        Route("/api/v1/events/stream", stream),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
