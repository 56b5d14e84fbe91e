"""Where one step and one short workflow spend their time, layer by layer.

    .venv/bin/python bench/profile_store.py [--n 2000] [--repeats 5]

Complements the profiler (profile_core.py) with plain timings, free of
profiler overhead, on a fresh temp SQLite file (WAL, synchronous=NORMAL):

* one step, peeled layer by layer: a plain INSERT on Polos's own connection
  and table, the fenced ``record_step`` SQL, ``store.record_step``,
  ``ExecutionRun.record`` and ``ctx.step.run``;
* each store transition of a short workflow's life (create, claim, record,
  complete, read), per call.

Each figure is the median over ``--repeats`` batches of ``--n`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from case_polos import sequential, trivial
from polos import WorkflowContext
from polos.engine.clock import SYSTEM_CLOCK
from polos.engine.run import ExecutionRun, current_run
from polos.store import Claimed, NewExecution, StepRow, Store, store_from_url
from polos.store.sqlite import SQLiteStore

Batch = Callable[[int], Awaitable[None]]


async def _interleaved(batches: dict[str, Batch], n: int, repeats: int) -> dict[str, float]:
    """Median us per call of each batch; the batches take turns so drift hits all alike."""
    for batch in batches.values():
        await batch(min(n, 200))  # warm-up: statement cache, pages
    samples: dict[str, list[float]] = {name: [] for name in batches}
    for _ in range(repeats):
        for name, batch in batches.items():
            started = time.perf_counter()
            await batch(n)
            samples[name].append((time.perf_counter() - started) / n * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


async def _running(store: Store, n_executions: int = 1) -> list[Claimed]:
    """``n_executions`` new executions, claimed by one worker."""
    now = time.time()
    for _ in range(n_executions):
        await store.create_execution(NewExecution(str(uuid.uuid4()), sequential.id, "0", now))
    return await store.claim("bench", [sequential.id], n_executions, now, 600.0)


def _step_row(key: str, i: int) -> StepRow:
    return StepRow(key, "run", "trivial", str(i), None, 1, time.time())


async def step_layers(store: SQLiteStore, n: int, repeats: int) -> dict[str, float]:
    conn = store._conn  # the benchmark peels the backend on purpose
    assert conn is not None
    counter = iter(range(10**9))
    claimed = (await _running(store))[0]
    execution = claimed.execution
    plain = (
        "INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    fenced = store_query("record_step")
    # The step's columns, then NULL for any newer optional ones, then the fence's id and attempt.
    extra = (None,) * (fenced.count("?") - 10)

    async def plain_insert(k: int) -> None:
        for _ in range(k):
            conn.execute(plain, (execution.id, f"p{next(counter)}", "run", "t", "1", None, 1, 0.0))

    async def fenced_sql(k: int) -> None:
        for _ in range(k):
            key = f"f{next(counter)}"
            row = (execution.id, key, "run", "t", "1", None, execution.attempt, 0.0)
            conn.execute(fenced, (*row, *extra, execution.id, execution.attempt))

    async def store_record(k: int) -> None:
        for _ in range(k):
            await store.record_step(
                execution.id, execution.attempt, _step_row(f"s{next(counter)}", 1)
            )

    run = ExecutionRun(store, claimed, sequential, clock=SYSTEM_CLOCK, worker_id="bench")

    async def run_record(k: int) -> None:
        for _ in range(k):
            await run.record(f"r{next(counter)}", "run", "trivial", "1")

    ctx = WorkflowContext(run)

    async def step_run(k: int) -> None:
        token = current_run.set(run)
        try:
            for _ in range(k):
                await ctx.step.run(f"c{next(counter)}", trivial, 1)
        finally:
            current_run.reset(token)

    layers: dict[str, Batch] = {
        "plain INSERT into steps (same connection)": plain_insert,
        "fenced record_step SQL (conn.execute)": fenced_sql,
        "await store.record_step(...)": store_record,
        "await ExecutionRun.record(...)": run_record,
        "await ctx.step.run(key, async fn)": step_run,
    }
    return await _interleaved(layers, n, repeats)


async def transitions(store: Store, n: int, repeats: int) -> dict[str, float]:
    ids: list[str] = []

    async def create(k: int) -> None:
        now = time.time()
        for _ in range(k):
            new = NewExecution(str(uuid.uuid4()), sequential.id, "0", now)
            await store.create_execution(new)
            ids.append(new.id)

    async def claim_one(k: int) -> None:
        for _ in range(k):
            await store.claim("bench", [sequential.id], 1, time.time(), 600.0)

    async def claim_batch(k: int) -> None:
        done = 0
        while done < k:
            done += len(await store.claim("bench", [sequential.id], 100, time.time(), 600.0)) or k

    pool: list[Claimed] = []

    async def running_pool(k: int) -> None:
        pool.extend(await _running(store, k))

    async def complete(k: int) -> None:
        for _ in range(k):
            c = pool.pop()
            await store.complete_execution(c.execution.id, c.execution.attempt, "3", time.time())

    async def read(k: int) -> None:
        for i in range(k):
            await store.get_execution(ids[i % len(ids)])

    # Enough queued (and running) executions for every timed batch of every round.
    await create(n * (2 * repeats + 2) + 400)
    await running_pool(n * (repeats + 1) + 200)
    batches: dict[str, Batch] = {
        "create_execution (invoke)": create,
        "claim, 1 per call": claim_one,
        "claim, batches of 100 (per execution)": claim_batch,
        "complete_execution": complete,
        "get_execution (wait_for_result's read)": read,
    }
    return await _interleaved(batches, n, repeats)


def store_query(name: str) -> str:
    from polos.store.sqlite import backend

    return backend._Q[name]


async def main_async(n: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="polos-store-") as tmp:
        store = store_from_url(f"sqlite:///{tmp}/store.db")
        assert isinstance(store, SQLiteStore)
        await store.open()
        try:
            layers = await step_layers(store, n, repeats)
            trans = await transitions(store, n, repeats)
        finally:
            await store.close()
    _print("one step, layer by layer (us per call, cumulative)", layers)
    _print("store transitions (us per call)", trans)


def _print(title: str, rows: dict[str, Any]) -> None:
    print(f"\n{title}")
    for name, value in rows.items():
        print(f"  {name:<50} {value:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.n, args.repeats))


if __name__ == "__main__":
    main()
