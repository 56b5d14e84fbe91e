"""Bytes an embedded SQLite store writes per transition of a run (Linux only).

    .venv/bin/python bench/bench_sqlite_wal_bytes.py [--runs 300]

On a fresh temp SQLite file, through the store interface, one at a time
(each its own transaction, as on an idle worker): create a run, claim it,
record three steps, complete it. What each costs is counted in bytes the
process wrote (``wchar`` of /proc/self/io: the WAL frames, 4 KiB and a
24-byte header per page a transaction changed), divided by 4,120 for an
estimate of pages. Unlike a timing, the figure is the same on any machine
and under any load, so it shows what a schema or query change saves: most of
a run's start and end is leaf pages of the ``executions`` indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

from polos.store import store_from_url
from polos.store.records import NewExecution, StepRow

FRAME = 4096 + 24


def written() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


async def main(runs: int) -> None:
    folder = tempfile.mkdtemp(prefix="polos-wal-")
    store = store_from_url(f"sqlite:///{folder}/wal.db")
    await store.open()
    totals = {"create": 0, "claim": 0, "step": 0, "complete": 0}
    try:
        for n in range(runs):
            run_id = str(uuid.uuid4())
            now = time.time()
            new = NewExecution(run_id, "wal_wf", "{}", now, root_execution_id=run_id)
            before = written()
            await store.create_execution(new)
            middle = written()
            [claimed] = await store.claim("w1", ["wal_wf"], 1, now, 30.0)
            after = written()
            totals["create"] += middle - before
            totals["claim"] += after - middle
            attempt = claimed.execution.attempt
            for key in ("a", "b", "c"):
                before = written()
                row = StepRow(key, "run", "fn", f'"{n}"', None, attempt, time.time())
                assert await store.record_step(run_id, attempt, row)
                totals["step"] += written() - before
            before = written()
            assert await store.complete_execution(run_id, attempt, '"done"', time.time())
            totals["complete"] += written() - before
    finally:
        await store.close()
    print(f"{runs} runs on a fresh SQLite file, one transaction per transition")
    print(f"{'transition':<12}{'bytes':>10}{'~pages':>9}")
    per_run = 0.0
    for name, total in totals.items():
        each = total / runs / (3 if name == "step" else 1)
        per_run += total / runs
        print(f"{name:<12}{each:>10.0f}{each / FRAME:>9.1f}")
    print(
        f"{'a run':<12}{per_run:>10.0f}{per_run / FRAME:>9.1f}  (create, claim, 3 steps, complete)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300)
    asyncio.run(main(parser.parse_args().runs))
