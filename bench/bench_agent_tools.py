"""The engine's overhead per agent tool call, as their number grows.

    .venv/bin/python bench/bench_agent_tools.py [--database-url URL] [--sizes 10,200,1000]
        [--fake-process] [--held-only | --replay-only]

An agent against the fake OpenAI server makes N tool calls, one per model
turn (each a durable child workflow), then answers. The figure is the
engine's overhead per tool call: the run's wall time minus the time the fake
spent answering (``server.busy_seconds``, from each request's arrival to its
last byte), divided by N. What remains is Polos (steps, child workflows,
checkpoints, the agent loop) plus the provider SDK's own client work.

Each timed run follows a short untimed one on the same worker and database,
so that first uses (connections opened, statements prepared) are not
counted as per-call cost; a long-lived worker pays them once.

Each N runs with parked runs held in memory (the default) and without (every
tool batch replays the run from the top, as Polos does). Goals: <= 2 ms per
tool call on SQLite, <= 5 ms on PostgreSQL, and flat: N=1,000 within 1.5x of
N=10. PostgreSQL (``--database-url postgresql://...``) gets a fresh schema per
case, dropped afterwards.

The replaying rows cannot be flat: the k-th resume replays the k-1 turns
before it (their steps from the store, the loop's code between them again),
so the overhead per tool call grows with N by design of replay (about 70 us
per replayed turn on SQLite at the end of issue 17; see docs/durability.md,
"When a run replays, and what a replay costs"). At N=10 a replaying call
costs about what a held one does.

``cpu ms/call`` is the CPU time of the event loop's thread per tool call (the
run, the SQLite store, the model client; not the fake's thread): on a shared,
loaded machine it moves far less than the wall time, which also holds the
waits for a core and for the GIL while the in-process fake works.
``--fake-process`` runs the fake in a process of its own instead of a thread
(on a loaded machine each call then also waits for the scheduler to run the
other process). ``--held-only`` skips the replaying cases, ``--replay-only``
the held ones.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import openai  # noqa: F401  (imported here: its import is not the engine's per-call cost)
from pydantic import BaseModel

from polos import Agent, Polos, WorkflowContext, tool
from polos.testing import FakeOpenAIServer, Turn

GOAL_MS = {"sqlite": 2.0, "postgres": 5.0}
FLAT_GOAL = 1.5


class Ping(BaseModel):
    n: int


@tool(description="Returns its input")
async def ping(ctx: WorkflowContext, input: Ping) -> int:
    return input.n


pinger = Agent(id="bench_pinger", provider="openai", model="bench", tools=[ping], max_steps=5000)


@dataclass
class Case:
    held: bool
    calls: int
    wall_s: float
    model_s: float
    cpu_s: float
    """CPU time of this thread (the event loop: the run, the store, the model client)."""

    @property
    def overhead_ms(self) -> float:
        return (self.wall_s - self.model_s) / self.calls * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.calls * 1000


def _serve(turns: list[Turn], conn: Connection) -> None:
    """A fake's own process: serve until told to stop, then report."""
    with FakeOpenAIServer(turns) as server:
        conn.send(server.base_url)
        conn.recv()
        conn.send((server.busy_seconds, len(server.requests)))


class FakeInProcess:
    """The fake model in a process of its own, as a real model server is.

    In a thread of the bench's process (the default) the fake's work takes
    the GIL from the run it answers: uvicorn reading a request of thousands
    of messages, and the hand-over of the GIL at each call, count as ours.
    """

    def __init__(self, turns: list[Turn]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(turns, child), daemon=True)
        self.busy_seconds, self.request_count = 0.0, 0

    def __enter__(self) -> FakeInProcess:
        self._process.start()
        self.base_url: str = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self.busy_seconds, self.request_count = self._conn.recv()
        self._process.join()


class _CountOnly(list):  # type: ignore[type-arg]
    """A fake's record of its requests that keeps their number, not their bodies.

    The fake in a thread of this process would otherwise keep every request's
    parsed JSON: ~N^2 message dicts for an N-call run (a million at N=1,000),
    which the worker's full garbage collections then walk as if they were its
    own. A model server's memory is not the worker's."""

    def append(self, item: object) -> None:
        super().append(None)


#: The untimed run before each timed one: three tool calls, then an answer.
WARM_TURNS = [Turn.call("ping", {"n": i}) for i in range(3)] + [Turn.reply("warm")]


async def one_run(url: str, calls: int, hold_seconds: float, own_process: bool = False) -> Case:
    """One timed agent run of ``calls`` tool calls, after an untimed one on the same
    worker and database: the store's connections are open, its statements
    prepared (PostgreSQL prepares each on each pooled connection's first use)
    and the model client made, as on a worker that has been running a while.
    Without it N=10 on PostgreSQL measured mostly first uses (7 ms per call
    against 3.7-4.5 ms at N >= 200). The in-thread fake serves both runs, so
    the timed one reuses the warm model client; a fake in its own process
    serves the timed run only (the warm-up has its own fake, so the timed run
    makes its model client, ~2 ms once)."""
    turns = [Turn.call("ping", {"n": i}) for i in range(calls)] + [Turn.reply("done")]
    server: FakeOpenAIServer | FakeInProcess = (
        FakeInProcess(turns) if own_process else FakeOpenAIServer(WARM_TURNS + turns)
    )
    if isinstance(server, FakeOpenAIServer):
        server.requests = _CountOnly()
    with server:
        async with Polos(
            database_url=url, workflows=[pinger, ping], hold_seconds=hold_seconds
        ) as polos:
            if isinstance(server, FakeOpenAIServer):
                pinger.provider_base_url, pinger._provider = server.base_url, None
                await pinger.run(polos, "warm up", timeout=120)
                busy_before, requests_before = server.busy_seconds, len(server.requests)
            else:
                await _warm_elsewhere(polos)
                pinger.provider_base_url, pinger._provider = server.base_url, None
                busy_before, requests_before = 0.0, 0
            start, cpu_start = time.perf_counter(), time.thread_time()
            result = await pinger.run(polos, "ping away", timeout=1800)
            wall = time.perf_counter() - start
            cpu = time.thread_time() - cpu_start
    model = server.busy_seconds - busy_before
    requests = server.request_count if isinstance(server, FakeInProcess) else len(server.requests)
    assert requests - requests_before == calls + 1, "a model call was made twice"
    assert len(result.tool_calls) == calls
    assert [int(c.result) for c in result.tool_calls] == list(range(calls))
    return Case(hold_seconds > 0, calls, wall, model, cpu)


async def _warm_elsewhere(polos: Polos) -> None:
    """The untimed run against a fake of its own (in this process)."""
    with FakeOpenAIServer(WARM_TURNS) as warm:
        pinger.provider_base_url, pinger._provider = warm.base_url, None
        await pinger.run(polos, "warm up", timeout=120)
        if pinger._provider is not None:
            await pinger._provider.aclose()
    pinger._provider = None  # the timed run makes a client for its own fake


def fresh_schema(base: str) -> tuple[str, str]:
    parsed = urlparse(base)
    query = dict(parse_qsl(parsed.query))
    schema = f"{query.get('schema', 'bench_agent')}_{uuid.uuid4().hex[:8]}"
    query["schema"] = schema
    return urlunparse(parsed._replace(query=urlencode(query))), schema


async def drop_schema(base: str, schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    parsed = urlparse(base)
    conn = await asyncpg.connect(urlunparse(parsed._replace(query="")))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def measure(
    base: str | None, folder: str, calls: int, held: bool, repeats: int, own_process: bool = False
) -> Case:
    """The median case of ``repeats`` runs (by overhead), each on a fresh database."""
    cases = []
    for _ in range(repeats):
        if base is None:
            url = f"sqlite:///{folder}/{uuid.uuid4().hex}.db"
            cases.append(await one_run(url, calls, 10.0 * held, own_process))
            continue
        url, schema = fresh_schema(base)
        try:
            cases.append(await one_run(url, calls, 10.0 * held, own_process))
        finally:
            await drop_schema(base, schema)
    cases.sort(key=lambda c: c.overhead_ms)
    return cases[len(cases) // 2]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="postgresql://... (default SQLite)")
    parser.add_argument("--sizes", default="10,200,1000", help="comma-separated N")
    parser.add_argument(
        "--fake-process",
        action="store_true",
        help="run the fake model server in a process of its own (default: a thread of this one)",
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--held-only", action="store_true", help="skip the replaying cases")
    only.add_argument("--replay-only", action="store_true", help="skip the held cases")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    backend = "postgres" if args.database_url else "sqlite"
    goal = GOAL_MS[backend]
    rows: list[Case] = []
    with tempfile.TemporaryDirectory() as tmp:
        await one_run(f"sqlite:///{tmp}/warm-up.db", 3, 10.0)  # first-use costs, untimed
        modes = (True,) if args.held_only else (False,) if args.replay_only else (True, False)
        for held in modes:
            for n in sizes:
                # Small N is noisy on a shared machine: the median of a few runs.
                repeats = 5 if n <= 20 else 3 if n <= 200 else 1
                rows.append(
                    await measure(args.database_url, tmp, n, held, repeats, args.fake_process)
                )
    where = "its own process" if args.fake_process else "a thread of this process"
    print(f"backend: {backend}; the fake model in {where}")
    print(f"goal <= {goal:g} ms per tool call, flat within {FLAT_GOAL}x")
    header = (
        f"{'held in memory':<16}{'N':>6}{'wall s':>9}{'model s':>9}{'overhead ms/call':>18}"
        f"{'cpu ms/call':>13}"
    )
    print(header)
    for c in rows:
        held_label = "yes" if c.held else "no (replay)"
        print(
            f"{held_label:<16}{c.calls:>6}{c.wall_s:>9.2f}{c.model_s:>9.2f}"
            f"{c.overhead_ms:>18.2f}{c.cpu_ms:>13.2f}  {verdict(c.overhead_ms <= goal)}"
        )
    by = {(c.held, c.calls): c.overhead_ms for c in rows}
    low, high = min(sizes), max(sizes)
    for held in sorted({c.held for c in rows}, reverse=True):
        growth = by[(held, high)] / by[(held, low)]
        print(
            f"growth N={low} -> N={high}, {'held' if held else 'replaying'}: "
            f"{growth:.2f}x  {verdict(growth <= FLAT_GOAL)}"
        )
    worst = max(c.overhead_ms for c in rows)
    print(
        f"worst overhead {worst:.2f} ms per tool call (median of all {statistics.median(by.values()):.2f})"
    )


if __name__ == "__main__":
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    asyncio.run(main())
