"""A fleet of concurrent agents on one worker, against a model with a fixed latency.

    .venv/bin/python bench/bench_agent_fleet.py [--runs 1000] [--tools 5] [--latency 0.1]
        [--database-url postgresql://...] [--no-kill] [--no-clean]

R agent runs are queued at once; each makes T tool calls (one per model
turn, each a child workflow) and then answers, so it makes T+1 model calls.
The fake OpenAI server runs in this process with ``latency`` seconds per
answer; the worker is a subprocess (the tests' worker app serving
bench/fleet_agents.py). The model-bound ideal is (T+1) x latency: every run's
model calls one after another, all runs at once. Printed: wall time and its
ratio to the ideal (goal <= 1.3x), whether every run answered correctly (the
final answer carries the sum of its tool results, as the fake saw them),
the worker's peak memory (VmHWM) and LLM calls per second.

First (unless ``--no-plain``) the floor: the same model calls made by
fleet_plain_client.py, a process with the openai SDK and no engine; each
case then also prints its wall time over that floor, which is what
durability adds on top of the provider SDK's own cost.

Then the same with the worker SIGKILLed once half the model calls were made,
and a new worker started: every run must finish correctly, and no model call
that was recorded as a step before the kill may reach the fake again (the
fake counts each run's calls by turn; the steps recorded at the kill are
read from the store while no worker runs). Calls in flight at the kill are
made again, by design: their answers were never recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE)]

from fleet_agents import fleet_agent  # noqa: E402
from polos import PolosClient  # noqa: E402
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn  # noqa: E402
from toolkit.processes import WorkerProcess  # noqa: E402

RATIO_GOAL = 1.3
RUN_TAG = re.compile(r"^run (\d+)$")


@dataclass
class FleetModel:
    """What the fake model answers, and a count of each call it was asked."""

    tools: int
    calls: Counter[tuple[int, int]] = field(default_factory=Counter)
    finals: int = 0
    arrivals: dict[tuple[int, int], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: RecordedRequest) -> Turn:
        messages: list[dict[str, Any]] = request.body["messages"]  # type: ignore[assignment]
        tag = next(str(m["content"]) for m in messages if m["role"] == "user")
        run = int(RUN_TAG.fullmatch(tag)[1])  # type: ignore[index]
        results = [int(m["content"]) for m in messages if m["role"] == "tool"]
        turn = len(results)
        with self.lock:
            self.calls[(run, turn)] += 1
            self.arrivals.setdefault((run, turn), time.perf_counter())
            if turn >= self.tools:
                self.finals += 1
        if turn < self.tools:
            return Turn.call("double", {"n": run * 100 + turn})
        return Turn.reply(f"run {run}: {sum(results)}")

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.calls.values())


def expected_text(run: int, tools: int) -> str:
    return f"run {run}: {sum(2 * (run * 100 + k) for k in range(tools))}"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fresh_database(base: str | None, folder: str) -> tuple[str, str | None]:
    if base is None:
        return f"sqlite:///{folder}/fleet-{uuid.uuid4().hex[:8]}.db", None
    parsed = urlparse(base)
    query = dict(parse_qsl(parsed.query))
    schema = f"{query.get('schema', 'bench_fleet')}_{uuid.uuid4().hex[:8]}"
    query["schema"] = schema
    return urlunparse(parsed._replace(query=urlencode(query))), schema


async def drop_schema(base: str, schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(urlunparse(urlparse(base)._replace(query="")))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def start_worker(url: str, folder: str, model_url: str, args: argparse.Namespace) -> WorkerProcess:
    return WorkerProcess(
        url,
        Path(folder) / "steps.log",
        modules="fleet_agents",
        PYTHONPATH=f"{HERE.parent / 'src'}{os.pathsep}{HERE}",
        FLEET_MODEL_URL=model_url,
        OPENAI_API_KEY="bench",
        POLOS_TEST_SLOTS=str(args.slots or 4 * args.runs),
        POLOS_TEST_LEASE=str(args.lease),
        POLOS_TEST_POLL="0.1",
        POLOS_TEST_GRACE="10",
        ready_timeout=60,
    )


async def wait_until_done(client: PolosClient, model: FleetModel, runs: int) -> None:
    """Until every run is completed (the fake's final answers say when to start asking)."""
    while model.finals < runs:
        await asyncio.sleep(0.05)
    while True:
        done = await client.list_executions(
            status="completed", workflow_id=fleet_agent.id, limit=runs + 1
        )
        if len(done) >= runs:
            return
        await asyncio.sleep(0.05)


async def recorded_llm_turns(client: PolosClient, ids: list[str]) -> dict[str, int]:
    """How many model calls of each run are recorded as steps (``llm_<i>``)."""
    counts = {}
    for execution_id in ids:
        steps = await client.store.list_steps(execution_id)
        counts[execution_id] = sum(1 for s in steps if re.fullmatch(r"llm_\d+", s.step_key))
    return counts


async def one_case(args: argparse.Namespace, folder: str, kill: bool) -> dict[str, Any]:
    url, schema = fresh_database(args.database_url, folder)
    model = FleetModel(tools=args.tools)
    calls_per_run = args.tools + 1
    turns = [model.answer] * (args.runs * calls_per_run * 2)
    result: dict[str, Any] = {"kill": kill}
    try:
        with FakeOpenAIServer(turns, latency=args.latency) as fake:
            # A call in flight when the worker dies ends in a disconnect at the
            # fake: expected, not worth a traceback (set once uvicorn configured it).
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
            worker = start_worker(url, folder, fake.base_url, args)
            async with PolosClient(database_url=url) as client:
                invocations = [fleet_agent.with_input(f"run {i}") for i in range(args.runs)]
                start = time.perf_counter()
                handles = await client.batch_agent_invoke(invocations)
                ids = [h.id for h in handles]
                run_of = {execution_id: i for i, execution_id in enumerate(ids)}
                recorded_at_kill: dict[str, int] = {}
                if kill:
                    half = args.runs * calls_per_run // 2
                    while model.total < half:
                        await asyncio.sleep(0.005)
                    worker.kill()
                    killed = time.perf_counter()
                    result["killed_after_s"] = killed - start
                    recorded_at_kill = await recorded_llm_turns(client, ids)
                    await asyncio.sleep(0.5)  # requests the dead worker sent reach the fake
                    result["calls_at_kill"] = model.total
                    result["recorded_at_kill"] = sum(recorded_at_kill.values())
                    worker = start_worker(url, folder, fake.base_url, args)
                    result["restart_s"] = time.perf_counter() - killed
                await wait_until_done(client, model, args.runs)
                wall = time.perf_counter() - start
                if os.environ.get("FLEET_DEBUG"):
                    print(
                        "   run 0 calls at",
                        [round(model.arrivals[(0, k)] - start, 3) for k in range(calls_per_run)],
                    )
                result["peak_rss_mb"] = peak_rss_mb(worker.pid)
                worker.stop()
                wrong = 0
                for execution_id in ids:
                    info = await client.get_execution(execution_id)
                    text = getattr(info.result, "result", None)  # the AgentResult's answer
                    if text != expected_text(run_of[execution_id], args.tools):
                        wrong += 1
                        if wrong <= 3:
                            print(
                                f"  wrong: run {run_of[execution_id]}: {info.status} {info.result!r:.200}"
                            )
            with model.lock:
                calls = dict(model.calls)
        repeated = {key: n for key, n in calls.items() if n > 1}
        recorded_repeats = [
            key for key in repeated if key[1] < recorded_at_kill.get(ids[key[0]], 0)
        ]
        missing = [
            (run, turn)
            for run in range(args.runs)
            for turn in range(calls_per_run)
            if (run, turn) not in calls
        ]
        result.update(
            wall_s=wall,
            ideal_s=calls_per_run * args.latency,
            wrong=wrong,
            llm_calls=sum(calls.values()),
            repeated_calls=sum(n - 1 for n in repeated.values()),
            recorded_repeats=len(recorded_repeats),
            missing_calls=len(missing),
        )
    finally:
        if schema is not None and args.database_url:
            await drop_schema(args.database_url, schema)
    return result


async def plain_case(args: argparse.Namespace) -> dict[str, Any]:
    """The same model calls from a process with no engine (fleet_plain_client.py)."""
    model = FleetModel(tools=args.tools)
    turns = [model.answer] * (args.runs * (args.tools + 1) * 2)
    with FakeOpenAIServer(turns, latency=args.latency) as fake:
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        fake_cpu = time.process_time()  # this process does little but serve the fake
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "fleet_plain_client.py"),
            fake.base_url,
            str(args.runs),
            str(args.tools),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        fake_cpu = time.process_time() - fake_cpu
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["fake_cpu_s"] = fake_cpu
    result["llm_calls"] = model.total - (args.tools + 1)  # less the warm-up's
    return result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    ratio = r["wall_s"] / r["ideal_s"]
    title = "worker SIGKILLed halfway, then restarted" if r["kill"] else "one worker, no failure"
    print(f"-- {title}")
    print(
        f"   wall {r['wall_s']:.2f} s; model-bound ideal {r['ideal_s']:.2f} s; "
        f"ratio {ratio:.2f}x (goal <= {RATIO_GOAL}x)  {verdict(ratio <= RATIO_GOAL)}"
    )
    print(
        f"   runs correct: {args.runs - r['wrong']}/{args.runs}  {verdict(r['wrong'] == 0)}; "
        f"LLM calls {r['llm_calls']} ({r['llm_calls'] / r['wall_s']:.0f}/s); "
        f"worker peak RSS {r['peak_rss_mb']:.0f} MB"
    )
    if r["kill"]:
        print(
            f"   killed after {r['killed_after_s']:.2f} s; the dead worker made {r['calls_at_kill']} "
            f"model calls, {r['recorded_at_kill']} of them recorded as steps; new worker ready in "
            f"{r['restart_s']:.2f} s"
        )
        ok = r["recorded_repeats"] == 0 and r["missing_calls"] == 0
        print(
            f"   recorded model calls made again: {r['recorded_repeats']}  {verdict(ok)} "
            f"(calls in flight at the kill, made again: {r['repeated_calls']})"
        )
    else:
        ok = r["repeated_calls"] == 0 and r["missing_calls"] == 0
        print(f"   model calls made twice: {r['repeated_calls']}  {verdict(ok)}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tools", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--slots", type=int, default=0, help="default 4 x runs")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--database-url", default=None, help="postgresql://... (default SQLite)")
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL case")
    parser.add_argument(
        "--no-plain",
        action="store_true",
        help="skip the floor: the same model calls from a process with no engine",
    )
    args = parser.parse_args()
    print(
        f"{args.runs} agent runs x {args.tools} tool calls, model latency {args.latency * 1000:.0f} ms, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}, one worker "
        f"({args.slots or 4 * args.runs} slots)"
    )
    plain: dict[str, Any] | None = None
    if not args.no_plain:
        plain = await plain_case(args)
        ideal = (args.tools + 1) * args.latency
        print(
            f"-- floor: the same model calls, openai SDK alone in one process, nothing recorded\n"
            f"   wall {plain['wall_s']:.2f} s ({plain['wall_s'] / ideal:.2f}x the ideal); "
            f"CPU {plain['cpu_s']:.2f} s (the fake's process {plain['fake_cpu_s']:.2f} s); "
            f"{plain['llm_calls'] / plain['wall_s']:.0f} LLM calls/s; "
            f"answers right {plain['right']}/{args.runs}"
        )
    with tempfile.TemporaryDirectory() as folder:
        for kill in (False,) if args.no_kill else (False, True):
            result = await one_case(args, folder, kill)
            report(args, result)
            if plain is not None:
                over = result["wall_s"] / plain["wall_s"]
                print(
                    f"   wall / the no-engine floor: {over:.2f}x (what durability adds; "
                    f"<= {RATIO_GOAL}x: {verdict(over <= RATIO_GOAL)})"
                )


if __name__ == "__main__":
    asyncio.run(main())
