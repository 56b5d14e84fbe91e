"""Workflows and a worker process for the PostgreSQL multi-process tests.

``python tests/pg_workflows.py`` runs a ``polos.Worker`` on
``POLOS_DATABASE_URL``, prints ``ready`` once it claims work and serves until
SIGTERM (graceful) or SIGKILL (a crash). Every step appends
``start|end <execution_id> <step_key> <pid> <time>`` to ``POLOS_TEST_LOG``
with one ``write`` on an ``O_APPEND`` file, so lines of concurrent processes
never interleave and a kill cuts at most the last line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from polos import Worker, WorkflowContext, workflow

LOG = os.environ.get("POLOS_TEST_LOG", "/dev/null")


def log_line(event: str, execution_id: str, step_key: str) -> None:
    line = f"{event} {execution_id} {step_key} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def traced_step(execution_id: str, step_key: str, max_seconds: float) -> str:
    log_line("start", execution_id, step_key)
    await asyncio.sleep(random.uniform(0, max_seconds))
    log_line("end", execution_id, step_key)
    return f"{step_key}@{os.getpid()}"


@workflow(id="pg_chain")
async def pg_chain(ctx: WorkflowContext, input: dict[str, float]) -> list[str]:
    """``steps`` sequential steps; returns the step keys in order."""
    eid = ctx.execution_id
    done = []
    for i in range(int(input["steps"])):
        key = f"s{i}"
        await ctx.step.run(key, traced_step, eid, key, float(input["max_seconds"]))
        done.append(key)
    return done


# reading the log (used by the tests) -----------------------------------------------------
@dataclass
class Interval:
    pid: int
    start: float
    end: float | None  # None: the process died inside the step


@dataclass
class StepLog:
    runs: dict[tuple[str, str], list[Interval]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, path: Path) -> StepLog:
        out = cls()
        open_runs: dict[tuple[str, str, int], Interval] = {}
        if not path.exists():
            return out
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5 or parts[0] not in ("start", "end"):
                continue  # a line cut by SIGKILL
            event, eid, key, pid_text, at_text = parts
            pid, at = int(pid_text), float(at_text)
            if event == "start":
                interval = Interval(pid, at, None)
                open_runs[(eid, key, pid)] = interval
                out.runs[(eid, key)].append(interval)
            elif (eid, key, pid) in open_runs:
                open_runs.pop((eid, key, pid)).end = at
        return out


# the worker process -------------------------------------------------------------------------
async def serve() -> None:
    from polos.runtime.worker import wait_for_signal

    worker = Worker(
        workflows=[pg_chain],
        max_concurrent_workflows=int(os.environ.get("POLOS_TEST_SLOTS", "50")),
        lease_seconds=float(os.environ.get("POLOS_TEST_LEASE", "3")),
        poll_interval=float(os.environ.get("POLOS_TEST_POLL", "0.1")),
        shutdown_grace_seconds=2.0,
    )
    await worker.start()
    print("ready", flush=True)
    try:
        await wait_for_signal()
    finally:
        await worker.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve())
