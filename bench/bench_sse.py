"""Many live SSE clients on one ``polos server``.

    .venv/bin/python bench/bench_sse.py [--clients 1000] [--events 20] [--database-url URL]

One server process over one database; ``--clients`` connections follow one
topic with ``GET /api/v1/events/stream`` (from the start, as a dashboard
would), then:

1. idle: the server's CPU while every client waits and nothing is published;
2. fan-out: ``--events`` events are published over HTTP, one every 50 ms;
   midway ``--reconnect`` clients drop their connection and come back with
   ``Last-Event-ID``, as ``EventSource`` does;
3. checks: every client got every event exactly once and in order.

Printed: the time to connect everyone, the server's idle CPU, publish ->
receipt latency (median, p99, max over every client and event), and the
server's memory. The same clients are then pointed at a reference, a minimal
Starlette app on the same uvicorn that broadcasts from memory without any
database (bench/sse_reference_app.py), which is the floor for this stack; the
ratios compare the two in one run.

The clients speak HTTP/1.1 over raw asyncio streams, so that they, and not the
server, are not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
TOPIC = "bench/sse"


@dataclass
class Client:
    index: int
    seen: list[int] = field(default_factory=list)
    received_at: dict[int, float] = field(default_factory=dict)
    last_id: str | None = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[str] = field(default_factory=list)


async def follow(port: int, client: Client, path: str, stop_after: int | None = None) -> None:
    """Read the stream, recording each event; return after ``stop_after`` events (a drop)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
    if client.last_id is not None:
        headers += f"Last-Event-ID: {client.last_id}\r\n"
    writer.write((headers + "\r\n").encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        client.errors.append(status.decode().strip())
        writer.close()
        return
    while (await reader.readline()) not in (b"\r\n", b""):
        pass  # response headers
    got = 0
    event_id: str | None = None
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if line.startswith(b": "):
                client.opened.set()
            elif line.startswith(b"id: "):
                event_id = line[4:].decode()
            elif line.startswith(b"data: "):
                data = json.loads(line[6:])
                seq = int(data["sequence_id"])
                client.seen.append(seq)
                client.received_at[seq] = time.perf_counter()
                client.last_id = event_id
                got += 1
                if stop_after is not None and got >= stop_after:
                    return
            # chunked transfer-encoding size lines and blank lines are skipped
    finally:
        writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            try:
                if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not answer /health within 30 s")


@dataclass
class Figures:
    connect_s: float
    idle_cpu_pct: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: float
    publish_ms: float
    complete: int
    broken: int


async def measure(port: int, pid: int, clients: int, events: int, reconnect: int) -> Figures:
    path = f"/api/v1/events/stream?topic={TOPIC}&last_sequence_id=0"
    fleet = [Client(i) for i in range(clients)]
    started = time.perf_counter()
    tasks: dict[int, asyncio.Task[None]] = {}
    for c in fleet:  # in waves, so the listen backlog never overflows
        tasks[c.index] = asyncio.create_task(follow(port, c, path))
        if c.index % 100 == 99:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*(c.opened.wait() for c in fleet)), 120)
    connect_s = time.perf_counter() - started

    await asyncio.sleep(1.0)  # let the last openings settle
    cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(3.0)
    idle = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0) * 100

    published_at: dict[int, float] = {}
    publish_ms: list[float] = []
    dropped = fleet[:reconnect]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for n in range(events):
            if n == events // 2:
                for c in dropped:  # drop midway; come back below with Last-Event-ID
                    tasks[c.index].cancel()
            sent = time.perf_counter()
            body = {"topic": TOPIC, "events": [{"event_type": "tick", "data": {"n": n}}]}
            response = await http.post("/api/v1/events/publish", json=body)
            response.raise_for_status()
            publish_ms.append((time.perf_counter() - sent) * 1000)
            published_at[response.json()["sequence_ids"][0]] = sent
            if n == events // 2:
                for c in dropped:
                    tasks[c.index] = asyncio.create_task(follow(port, c, path))
            await asyncio.sleep(0.05)

        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if all(len(c.seen) >= events for c in fleet):
                break
            await asyncio.sleep(0.1)
    memory = rss_mb(pid)
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)

    expected = sorted(published_at)
    latencies = [
        (c.received_at[seq] - published_at[seq]) * 1000
        for c in fleet
        for seq in expected
        if seq in c.received_at
    ]
    complete = sum(1 for c in fleet if c.seen == expected)
    broken = [c for c in fleet if c.seen != expected]
    for c in broken[:3]:
        print(f"  client {c.index}: saw {c.seen[:10]}... errors {c.errors[:2]}", file=sys.stderr)
    latencies.sort()
    return Figures(
        connect_s,
        idle,
        statistics.median(latencies) if latencies else float("nan"),
        latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        latencies[-1] if latencies else float("nan"),
        memory,
        statistics.median(publish_ms),
        complete,
        len(broken),
    )


def start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def run_one(name: str, argv: list[str], port: int, args: argparse.Namespace) -> Figures:
    proc = start(argv)
    try:
        await wait_healthy(port, proc)
        figures = await measure(port, proc.pid, args.clients, args.events, args.reconnect)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(
        f"{name:<10} connect {figures.connect_s:6.2f} s | idle CPU {figures.idle_cpu_pct:5.1f} % | "
        f"latency p50 {figures.p50_ms:7.1f} ms p99 {figures.p99_ms:7.1f} ms "
        f"max {figures.max_ms:7.1f} ms | publish {figures.publish_ms:5.1f} ms | RSS {figures.rss_mb:6.0f} MB | "
        f"exactly-once {figures.complete}/{args.clients}"
    )
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--reconnect", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/sse.db"
        print(f"{args.clients} SSE clients, {args.events} events, {args.reconnect} reconnect")
        print(f"database: {url.split('@')[-1]}")
        port = free_port()
        polos = [sys.executable, "-m", "polos.cli", "server", "-d", url, "-p", str(port)]
        ours = await run_one("polos", [*polos, "--log-level", "warning"], port, args)
        if args.no_reference:
            raise SystemExit(0 if ours.broken == 0 else 1)
        port = free_port()
        reference = [sys.executable, str(HERE / "sse_reference_app.py"), str(port)]
        floor = await run_one("reference", reference, port, args)
    print(
        f"ratios (polos / reference): p50 {ours.p50_ms / floor.p50_ms:.2f}x, "
        f"p99 {ours.p99_ms / floor.p99_ms:.2f}x, "
        f"idle CPU {ours.idle_cpu_pct:.1f} % vs {floor.idle_cpu_pct:.1f} %, "
        f"RSS {ours.rss_mb / floor.rss_mb:.2f}x"
    )
    raise SystemExit(0 if ours.broken == 0 else 1)


if __name__ == "__main__":
    asyncio.run(main())
