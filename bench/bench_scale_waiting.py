"""A million waiting runs: does anything get slower than on an empty database?

    .venv/bin/python bench/bench_scale_waiting.py \\
        --database-url 'postgresql://postgres@127.0.0.1:5432/test?schema=bench_scale'
    .venv/bin/python bench/bench_scale_waiting.py            # SQLite, 100,000 of each

Two fresh databases, migrated by Polos itself: an empty one, and a big one
holding W runs parked on timers (half) and on events (half), plus F finished
runs (default W = F = 1,000,000 on PostgreSQL, 100,000 on SQLite). The big
one's rows are copies of real rows: Polos parks one run of each kind and
finishes one, then SQL (generate_series on PostgreSQL, a recursive CTE on
SQLite) copies each row, with its steps and history, under new ids, spread
over the past month, with timers due next month and one event topic each.

Then, on each database in turn, through the public API with the worker on
(hold_seconds=0, so every wait really parks), the median of --samples runs:

- claim latency: invoke -> the run's first step starts;
- timer firing lag: a 0.2 s durable sleep -> the step after it starts, minus 0.2 s;
- event-to-resume: publish -> the waiting run's next step starts;
- a ``list_executions`` page (25 newest; also of one workflow's waiting runs) and ``get_execution`` of a parked run;
- worker memory (RSS, in a fresh process) after starting on the database and
  running the probes: the big one's parked runs must not cost memory.

Each big/empty ratio must stay within 2x (memory: within 1.2x + 10 MB);
``queue_stats`` (which counts every parked run per queue) is shown for information.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from _targets import Target, TargetFactory, polos_url
from polos import Polos, WorkflowContext, workflow

BENCH_DIR = Path(__file__).resolve().parent
#: Timers of the generated runs fall due from this far ahead, so none fires during the bench.
FAR = 30 * 86400.0
NAP_S = 0.2
PAGE = 25
#: Measured and shown, without a goal: counting the parked runs per queue is
#: O(parked) by its nature (the dashboard's queue page).
INFO_ONLY = {"queue_stats_ms"}

_marks: dict[str, float] = {}


def _mark(name: str) -> float:
    now = time.time()
    _marks[name] = now
    return now


@workflow(id="scale_probe")
async def scale_probe(ctx: WorkflowContext, tag: str) -> str:
    await ctx.step.run("started", _mark, f"claim-{tag}")
    return tag


@workflow(id="scale_timer")
async def scale_timer(ctx: WorkflowContext, seconds: float) -> float:
    before = await ctx.step.run("before", time.time)
    await ctx.step.wait_for("nap", seconds=seconds)
    after: float = await ctx.step.run("after", time.time)
    return after - before - seconds


@workflow(id="scale_event")
async def scale_event(ctx: WorkflowContext, topic: str) -> str:
    await ctx.step.wait_for_event("wait", topic=topic)
    await ctx.step.run("resumed", _mark, f"event-{topic}")
    return topic


WORKFLOWS = [scale_probe, scale_timer, scale_event]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--waiting", type=int, default=None, help="parked runs (default 1M/100k)")
    parser.add_argument("--finished", type=int, default=None, help="finished runs (default = W)")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median)")
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--keep", action="store_true", help="keep both databases (for EXPLAIN); prints where"
    )
    parser.add_argument("--memory-child", nargs=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _polos(target: Target) -> Polos:
    return Polos(database_url=polos_url(target), workflows=WORKFLOWS, hold_seconds=0)


# making the rows ----------------------------------------------------------------------
async def _templates(target: Target) -> dict[str, str]:
    """One real parked-on-a-timer run, one parked-on-an-event run and one finished run."""
    async with _polos(target) as polos:
        timer = await scale_timer.invoke(polos, FAR)
        event = await scale_event.invoke(polos, "scale-template")
        done = await scale_probe.invoke(polos, "template")
        await polos.wait_for_result(done.id, timeout=60)
        # Enough parked and finished runs that the empty database's pages are full too.
        extra = [await scale_event.invoke(polos, f"scale-extra-{i}") for i in range(PAGE)]
        for i in range(PAGE):
            await scale_probe.run(polos, f"extra-{i}")
        for handle in (timer, event, *extra):
            while (await polos.get_execution(handle.id)).status != "waiting":
                await asyncio.sleep(0.05)
    return {"timer": timer.id, "event": event.id, "finished": done.id}


def _overrides(kind: str, n: int, g: str, new_id: str, now: float) -> dict[str, str]:
    """Column -> SQL expression for copy number ``g`` of the template row ``t``."""
    # Spread creation over the past month so the probes are the newest runs.
    age = f"({g} * {FAR / n!r})"
    out = {
        "id": new_id,
        "created_at": f"t.created_at - {age}",
        "updated_at": f"t.updated_at - {age}",
        "started_at": f"t.started_at - {age}",
        "completed_at": f"t.completed_at - {age}",
        "root_execution_id": f"CASE WHEN t.root_execution_id = t.id THEN {new_id} "
        "ELSE t.root_execution_id END",
        "idempotency_key": "NULL",
    }
    if kind == "timer":
        out["wake_at"] = f"{now + FAR!r} + {g}"
    if kind == "event":
        out["wait_topic"] = f"'scale-' || {g}"
    return out


async def _generate_postgres(target: Target, templates: dict[str, str], w: int, f: int) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(target["url"], server_settings={"search_path": target["schema"]})
    try:
        cols = {
            table: [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' "
                    "AND is_identity = 'NO' ORDER BY ordinal_position",
                    target["schema"],
                    table,
                )
            ]
            for table in ("executions", "steps", "history")
        }
        now = time.time()
        for kind, n in (("timer", w // 2), ("event", w - w // 2), ("finished", f)):
            template = templates[kind]
            new_id = "substr(t.id, 1, 24) || lpad(g::text, 12, '0')"
            started = time.perf_counter()
            over = _overrides(kind, n, "g", new_id, now)
            select = ", ".join(over.get(c, f"t.{c}") for c in cols["executions"])
            await conn.execute(
                f"INSERT INTO executions ({', '.join(cols['executions'])}) SELECT {select} "
                f"FROM executions t CROSS JOIN generate_series(1, {n}) g WHERE t.id = $1",
                template,
            )
            for table, key in (("steps", "execution_id"), ("history", "execution_id")):
                child_id = "substr(t.execution_id, 1, 24) || lpad(g::text, 12, '0')"
                sel = ", ".join(child_id if c == key else f"t.{c}" for c in cols[table])
                await conn.execute(
                    f"INSERT INTO {table} ({', '.join(cols[table])}) SELECT {sel} "
                    f"FROM {table} t CROSS JOIN generate_series(1, {n}) g "
                    f"WHERE t.{key} = $1",
                    template,
                )
            print(f"  {n:,} {kind} runs copied in {time.perf_counter() - started:.0f}s", flush=True)
        # As a database that has been running a while would be: vacuumed and
        # analysed, so that autovacuum does not compete with the measurements.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _generate_sqlite(target: Target, templates: dict[str, str], w: int, f: int) -> None:
    conn = sqlite3.connect(target["path"], isolation_level=None)
    try:
        cols = {
            table: [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for table in ("executions", "steps", "history")
        }
        now = time.time()
        for kind, n in (("timer", w // 2), ("event", w - w // 2), ("finished", f)):
            template = templates[kind]
            series = (
                f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) "
            )
            new_id = "substr(t.id, 1, 24) || printf('%012d', s.g)"
            started = time.perf_counter()
            over = _overrides(kind, n, "s.g", new_id, now)
            select = ", ".join(over.get(c, f"t.{c}") for c in cols["executions"])
            conn.execute("BEGIN")
            conn.execute(
                f"INSERT INTO executions ({', '.join(cols['executions'])}) {series}"
                f"SELECT {select} FROM executions t, s WHERE t.id = ?",
                (template,),
            )
            for table in ("steps", "history"):
                names = [c for c in cols[table] if c != "seq"]
                child_id = "substr(t.execution_id, 1, 24) || printf('%012d', s.g)"
                sel = ", ".join(child_id if c == "execution_id" else f"t.{c}" for c in names)
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(names)}) {series}"
                    f"SELECT {sel} FROM {table} t, s WHERE t.execution_id = ?",
                    (template,),
                )
            conn.execute("COMMIT")
            print(f"  {n:,} {kind} runs copied in {time.perf_counter() - started:.0f}s", flush=True)
        conn.execute("ANALYZE")
    finally:
        conn.close()


# measuring ----------------------------------------------------------------------------
async def _median_of(samples: int, once: Callable[[int], Awaitable[float]]) -> float:
    values = [await once(i) for i in range(samples)]
    return statistics.median(values)


async def measure(target: Target, samples: int, parked_id: str) -> dict[str, float]:
    out: dict[str, float] = {}
    async with _polos(target) as polos:
        await scale_probe.run(polos, "warm")

        async def claim(i: int) -> float:
            tag = f"{uuid.uuid4().hex}"
            invoked = time.time()
            handle = await scale_probe.invoke(polos, tag)
            await polos.wait_for_result(handle.id, timeout=60)
            return _marks.pop(f"claim-{tag}") - invoked

        out["claim_ms"] = 1000 * await _median_of(samples, claim)

        async def timer(i: int) -> float:
            lag: float = await scale_timer.run(polos, NAP_S, timeout=60)
            return lag

        out["timer_lag_ms"] = 1000 * await _median_of(max(5, samples // 3), timer)

        async def event(i: int) -> float:
            topic = f"probe-{uuid.uuid4().hex}"
            handle = await scale_event.invoke(polos, topic)
            while (await polos.get_execution(handle.id)).status != "waiting":
                await asyncio.sleep(0.01)
            published = time.time()
            await polos.publish(topic, {"i": i})
            await polos.wait_for_result(handle.id, timeout=60)
            return _marks.pop(f"event-{topic}") - published

        out["event_resume_ms"] = 1000 * await _median_of(max(5, samples // 3), event)

        async def page(i: int) -> float:
            started = time.perf_counter()
            rows = await polos.list_executions(limit=PAGE)
            assert len(rows) == PAGE, len(rows)
            return time.perf_counter() - started

        out["list_page_ms"] = 1000 * await _median_of(samples, page)

        async def waiting_page(i: int) -> float:
            started = time.perf_counter()
            rows = await polos.list_executions(
                status="waiting", workflow_id="scale_event", limit=PAGE
            )
            assert len(rows) == PAGE, len(rows)
            return time.perf_counter() - started

        out["list_waiting_page_ms"] = 1000 * await _median_of(samples, waiting_page)

        async def rare_status_page(i: int) -> float:
            # Few runs have this status: a plan that walks the newest-first index
            # and filters reads every row before it can answer.
            started = time.perf_counter()
            await polos.list_executions(status="running", limit=PAGE)
            return time.perf_counter() - started

        out["list_running_page_ms"] = 1000 * await _median_of(samples, rare_status_page)

        async def get(i: int) -> float:
            started = time.perf_counter()
            info = await polos.get_execution(parked_id)
            assert info.status == "waiting", info.status
            return time.perf_counter() - started

        out["get_execution_ms"] = 1000 * await _median_of(samples, get)

        async def queues(i: int) -> float:
            started = time.perf_counter()
            await polos.queue_stats()
            return time.perf_counter() - started

        out["queue_stats_ms"] = 1000 * await _median_of(max(3, samples // 10), queues)
    return out


def memory_in_child(target: Target) -> float:
    """RSS in MB of a fresh process that started a worker on ``target`` and ran probes."""
    done = subprocess.run(
        [sys.executable, __file__, "--memory-child", json.dumps(target)],
        capture_output=True,
        text=True,
        cwd=BENCH_DIR.parent,
        timeout=600,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RSS_MB ")]
    if not lines:
        raise RuntimeError(f"memory child failed:\n{done.stderr[-2000:]}")
    return float(lines[-1].split()[1])


async def _memory_child(target: Target) -> float:
    async with _polos(target) as polos:
        for i in range(20):
            await scale_probe.run(polos, f"mem-{i}")
        await asyncio.sleep(3.0)  # a few scheduler and poll rounds over the parked runs
        with open("/proc/self/status") as f:
            rss = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
    return rss / 1024


def _verdict(name: str, empty: float, big: float) -> tuple[str, float, str]:
    if name == "rss_mb":
        ok = big <= empty * 1.2 + 10
        return (f"{big / empty:.2f}x", big - empty, "PASS" if ok else "FAIL")
    ratio = big / empty if empty > 0 else float("inf")
    return (f"{ratio:.2f}x", big - empty, "PASS" if ratio <= 2.0 else "FAIL")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        print(f"RSS_MB {asyncio.run(_memory_child(json.loads(args.memory_child[0]))):.1f}")
        return 0
    factory = TargetFactory(args.database_url)
    w = args.waiting or (1_000_000 if factory.kind == "postgres" else 100_000)
    f = args.finished if args.finished is not None else w
    print(f"Scale bench on {factory.description}: {w:,} waiting + {f:,} finished runs", flush=True)
    try:
        empty = factory.fresh("scale_empty")
        big = factory.fresh("scale_big")
        templates_empty = asyncio.run(_templates(empty))
        templates = asyncio.run(_templates(big))
        started = time.perf_counter()
        if factory.kind == "postgres":
            asyncio.run(_generate_postgres(big, templates, w, f))
        else:
            _generate_sqlite(big, templates, w, f)
        generated_s = time.perf_counter() - started
        print(f"generated in {generated_s:.0f}s; measuring", flush=True)
        parked_big = templates["event"][:24] + f"{(w - w // 2) // 2:012d}"
        parked_empty = templates_empty["event"]
        rounds: dict[str, list[dict[str, float]]] = {"empty": [], "big": []}
        for r in range(args.rounds):  # interleaved, so that drift hits both alike
            for name, target, parked in (("empty", empty, parked_empty), ("big", big, parked_big)):
                got = asyncio.run(measure(target, args.samples, parked))
                got["rss_mb"] = memory_in_child(target)
                rounds[name].append(got)
                print(
                    f"  round {r + 1} {name}: {json.dumps({k: round(v, 2) for k, v in got.items()})}"
                )
        results = {
            name: {k: statistics.median(g[k] for g in got) for k in got[0]}
            for name, got in rounds.items()
        }
    finally:
        if args.keep:
            print(f"kept: empty={empty} big={big}")
        else:
            factory.close()
    print(f"\nResults ({factory.kind}, {w:,} waiting + {f:,} finished vs empty)\n")
    print(f"{'measure':<24} {'empty':>10} {'big':>10} {'ratio':>8} {'goal':>14} {'status':>6}")
    print("-" * 78)
    verdicts = {}
    for key in results["empty"]:
        e, b = results["empty"][key], results["big"][key]
        ratio, _diff, status = _verdict(key, e, b)
        goal = "<= 1.2x+10MB" if key == "rss_mb" else "<= 2x"
        if key in INFO_ONLY:
            goal, status = "(info)", "info"
        verdicts[key] = status
        print(f"{key:<24} {e:>10.2f} {b:>10.2f} {ratio:>8} {goal:>14} {status:>6}")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = args.output_dir / f"scale-waiting-{factory.kind}-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "backend": factory.kind,
                "waiting": w,
                "finished": f,
                "generated_s": generated_s,
                "results": results,
                "rounds": rounds,
                "status": verdicts,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
