"""Throughput as worker processes are added, on one PostgreSQL database.

    .venv/bin/python bench/bench_scaling.py [--database-url postgresql://...] [--workflows 2000]
        [--submit batch|concurrent] [--callers 50] [--repeats 1] [--no-dbos]

For K = 1, 2 and 4 worker processes (the tests' worker app serving
bench/scaling_workflows.py, started with tests/toolkit) on a fresh
schema, a client process submits M 3-step workflows, then waits until all
are completed; the figure is workflows per second from the first submission.
``--submit batch`` queues them with one ``batch_invoke`` (one transaction);
``--submit concurrent`` makes M separate ``invoke`` calls, ``--callers`` of
them in flight at once, as many clients of a busy service would (on
PostgreSQL the invocations arriving together share a commit).

Two modes: trivial steps (CPU-bound: on a 2-core machine the worker and the
database server already share the CPU, so more processes cannot help), and
I/O-bound steps (``--step-seconds 0.02``, like API or LLM calls, with
``--slots 10`` per worker) where capacity adds up.

With DBOS installed (the bench extra) each round also runs DBOS Transact in
one process on a fresh schema of the same database, its M workflows started
by the same number of concurrent callers (``start_workflow_async``), for the
goal of DESIGN.md: one Polos worker process >= 10x DBOS's throughput.
Rounds run every case back to back; ratios are taken within a round and the
median over rounds is compared with the goals:

* 1 worker process vs DBOS: >= 10x (DESIGN.md, issue 15);
* K processes vs 1: I/O-bound steps >= 0.7 x K (capacity adds up);
  trivial steps >= 0.9x (this bench's own floor: on a machine whose CPU is
  already full, more processes must at least not cost throughput).

Each case also prints what one workflow cost: the database's transactions
(``xact_commit`` of pg_stat_database: read-only ones too, one per statement
outside a transaction; so the bench wants the database to itself), and CPU time split between the worker processes, this process (the
client) and the rest of the machine (mostly the database server), from the
first submission to the last completion, read from /proc (Linux only). They show where added
processes spend: each process's group commit batches only the runs it holds,
so K processes make smaller batches, more transactions and more statements
per workflow than one.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from polos import BatchWorkflowInput, PolosClient  # noqa: E402
from toolkit.processes import WorkerProcess, start_workers, stop_workers  # noqa: E402

DSN = "postgresql://postgres@127.0.0.1:5432/test"
PROCESSES = (1, 2, 4)
DBOS_GOAL = 10.0


def workers_for(
    count: int, url: str, step_seconds: float, slots: int, workdir: Path
) -> list[WorkerProcess]:
    return start_workers(
        count,
        url,
        workdir / "steps.log",
        modules="scaling_workflows",
        PYTHONPATH=f"{HERE.parent / 'src'}{os.pathsep}{HERE}",
        STEP_SECONDS=str(step_seconds),
        POLOS_TEST_SLOTS=str(slots),
        POLOS_TEST_POLL="0.1",  # Worker's defaults, not the tests' quicker ones
        POLOS_TEST_GRACE="10",
    )


async def submit(client: PolosClient, workflows: int, how: str, callers: int) -> None:
    if how == "batch":
        items = [BatchWorkflowInput(id="scale_three_steps", payload=i) for i in range(workflows)]
        await client.batch_invoke(items)
        return
    gate = asyncio.Semaphore(callers)

    async def one(i: int) -> None:
        async with gate:
            await client.invoke("scale_three_steps", i)

    await asyncio.gather(*(one(i) for i in range(workflows)))


@dataclass
class Cost:
    """What one case's workflows cost, per workflow (see the module's docstring)."""

    commits: float
    worker_cpu_ms: float
    client_cpu_ms: float
    other_cpu_ms: float


def _machine_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workers_cpu_s(procs: list[WorkerProcess]) -> float:
    """CPU seconds the (live) worker processes have used so far (/proc/PID/stat)."""
    total = 0
    for worker in procs:
        with open(f"/proc/{worker.proc.pid}/stat") as stat:
            # Fields after the command's closing parenthesis; utime, stime are 14, 15.
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _commits(admin: Any) -> int:
    # Counters reach pg_stat_database when a backend's stats are flushed (at
    # most a second late): the caller waits before the second reading.
    value = await admin.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(value)


async def run_case(
    dsn: str, workers: int, workflows: int, step_seconds: float, slots: int, how: str, callers: int
) -> tuple[float, Cost]:
    schema = f"scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{dsn}?schema={schema}"
    try:
        async with PolosClient(database_url=url):  # migrate before the workers start
            pass
        workdir = Path(tempfile.mkdtemp(prefix="polos-scaling-"))
        procs = await asyncio.to_thread(workers_for, workers, url, step_seconds, slots, workdir)
        try:
            async with PolosClient(database_url=url) as client:
                await asyncio.sleep(1.0)  # the workers' start-up out of the counters
                commits, machine = await _commits(admin), _machine_cpu_s()
                mine, worker_cpu = _own_cpu_s(), _workers_cpu_s(procs)
                start = time.perf_counter()
                await submit(client, workflows, how, callers)
                while True:
                    done = await admin.fetchval(
                        f"SELECT count(*) FROM {schema}.executions WHERE status = 'completed'"
                    )
                    if done >= workflows:
                        break
                    await asyncio.sleep(0.02)
                rate = workflows / (time.perf_counter() - start)
                machine = _machine_cpu_s() - machine
                mine = _own_cpu_s() - mine
                worker_cpu = _workers_cpu_s(procs) - worker_cpu
        finally:
            await stop_workers(procs)
        await asyncio.sleep(1.0)
        commits = await _commits(admin) - commits
        per = 1000 / workflows
        cost = Cost(
            commits=commits / workflows,
            worker_cpu_ms=worker_cpu * per,
            client_cpu_ms=mine * per,
            # Clock ticks are coarse: clamp, it is an estimate.
            other_cpu_ms=max(0.0, machine - worker_cpu - mine) * per,
        )
        return rate, cost
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def run_dbos(dsn: str, workflows: int, callers: int) -> float:
    """DBOS in a fresh process on a fresh schema (bench/run_case.py)."""
    schema = f"scale_dbos_{uuid.uuid4().hex[:8]}"
    target = {"kind": "postgres", "url": dsn, "schema": schema}
    params = {"workflows": workflows, "callers": callers}
    command = [
        sys.executable,
        str(HERE / "run_case.py"),
        "dbos_throughput_concurrent",
        json.dumps(target),
        json.dumps(params),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    finally:
        asyncio.run(_drop_schema(dsn, schema))
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("BENCH-RESULT "):
            return float(json.loads(line.removeprefix("BENCH-RESULT "))["workflows_per_s"])
    raise RuntimeError(f"DBOS case failed:\n{done.stderr[-2000:]}")


async def _drop_schema(dsn: str, schema: str) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await admin.close()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DSN, help="a PostgreSQL URL without ?schema")
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--step-seconds", type=float, default=0.0)
    parser.add_argument(
        "--slots", type=int, default=100, help="max_concurrent_workflows per worker"
    )
    parser.add_argument("--submit", choices=("batch", "concurrent"), default="batch")
    parser.add_argument("--callers", type=int, default=50, help="invocations in flight at once")
    parser.add_argument("--repeats", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument("--no-dbos", action="store_true", help="skip the DBOS reference")
    args = parser.parse_args()
    with_dbos = not args.no_dbos and importlib.util.find_spec("dbos") is not None
    rounds: list[dict[str, float]] = []
    costs: dict[str, list[Cost]] = {str(k): [] for k in PROCESSES}
    for r in range(args.repeats):
        rates: dict[str, float] = {}
        for k in PROCESSES:
            rates[str(k)], cost = asyncio.run(
                run_case(
                    args.database_url,
                    k,
                    args.workflows,
                    args.step_seconds,
                    args.slots,
                    args.submit,
                    args.callers,
                )
            )
            costs[str(k)].append(cost)
            print(
                f"  round {r + 1}/{args.repeats}: {k} worker process(es) {rates[str(k)]:>8.0f} wf/s"
            )
        if with_dbos:
            rates["dbos"] = run_dbos(args.database_url, args.workflows, args.callers)
            print(
                f"  round {r + 1}/{args.repeats}: DBOS, one process      {rates['dbos']:>8.0f} wf/s"
            )
        rounds.append(rates)
    report(rounds, costs, args, with_dbos)


def report(
    rounds: list[dict[str, float]],
    costs: dict[str, list[Cost]],
    args: argparse.Namespace,
    with_dbos: bool,
) -> None:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def ratio(a: str, b: str) -> float:
        return statistics.median(r[a] / r[b] for r in rounds)

    io_bound = args.step_seconds > 0
    print(
        f"\nM={args.workflows} 3-step workflows, submit={args.submit}"
        f"{f' ({args.callers} callers)' if args.submit == 'concurrent' else ''}, "
        f"step_seconds={args.step_seconds}, slots={args.slots}, {len(rounds)} round(s)"
    )
    print(f"{'worker processes':<18}{'3-step wf/s':>14}{'vs 1 process':>15}{'goal':>12}  status")
    for k in PROCESSES:
        rate, scale = median(str(k)), ratio(str(k), "1")
        if k == 1:
            print(f"{k:<18}{rate:>14.0f}{scale:>14.2f}x")
            continue
        goal = 0.7 * k if io_bound else 0.9
        print(
            f"{k:<18}{rate:>14.0f}{scale:>14.2f}x{f'>= {goal:.1f}x':>12}  {verdict(scale >= goal)}"
        )
    print(
        f"\nper workflow (median over rounds){'transactions':>14}{'worker CPU':>13}"
        f"{'client CPU':>13}{'rest (DB) CPU':>16}"
    )
    for k in PROCESSES:
        mine = costs[str(k)]

        def mid(field: str, mine: list[Cost] = mine) -> float:
            return statistics.median(getattr(c, field) for c in mine)

        print(
            f"{k} worker process(es){'':<13}{mid('commits'):>14.2f}"
            f"{mid('worker_cpu_ms'):>10.2f} ms{mid('client_cpu_ms'):>10.2f} ms"
            f"{mid('other_cpu_ms'):>13.2f} ms"
        )
    if with_dbos:
        vs = ratio("1", "dbos")
        print(f"\nDBOS, one process: {median('dbos'):.0f} wf/s")
        print(
            f"1 Polos worker process / DBOS: {vs:.2f}x  (goal >= {DBOS_GOAL:.0f}x)  "
            f"{verdict(vs >= DBOS_GOAL)}"
        )
    print("\nrounds: " + json.dumps(rounds))
    print("costs: " + json.dumps({k: [asdict(c) for c in v] for k, v in costs.items()}))


if __name__ == "__main__":
    main()
