"""What tracing costs per step: OpenTelemetry off (no OTEL_* variable) and on.

    .venv/bin/python bench/bench_tracing.py [--steps 1000] [--inner 5] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Each round runs both modes, each in a fresh process on a fresh database (a
temp SQLite file by default; a fresh schema with --database-url): a workflow
of ``--steps`` trivial async steps, timed ``--inner`` times after a warm-up.
"on" exports every span over OTLP/HTTP to a receiver this script serves on
127.0.0.1 (decoding each request, as a collector would), so the figure
includes span creation, the batch processor's thread and the export.
The table shows medians; see docs/observability.md.

``--baseline-src DIR`` adds a third mode: tracing off, running the polos
source in ``DIR/src`` (an export of a commit from before tracing, say:
``git archive 3316a5f | tar -x -C /tmp/before``), to show what the hook costs
when tracing is off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))  # the OTLP receiver of the test kit


async def _child(database_url: str, steps: int, inner: int) -> dict[str, Any]:
    from polos import Polos, WorkflowContext, workflow

    async def noop() -> None:
        return None

    @workflow(id="bench_traced_steps")
    async def many(ctx: WorkflowContext, payload: dict[str, int]) -> int:
        for i in range(payload["n"]):
            await ctx.step.run(f"s{i}", noop)
        return payload["n"]

    async with Polos(database_url=database_url, workflows=[many]) as polos:
        traced = getattr(polos.worker, "tracer", None) is not None
        await many.run(polos, {"n": 50}, timeout=120)  # warm-up
        totals = []
        for _ in range(inner):
            began = time.perf_counter()
            await many.run(polos, {"n": steps}, timeout=600)
            totals.append(time.perf_counter() - began)
    per_step = [t / steps * 1e6 for t in totals]
    return {"traced": traced, "us_per_step": statistics.median(per_step), "all": per_step}


def _database(base: str | None, folder: str) -> str:
    if base is None:
        return f"sqlite:///{folder}/{uuid.uuid4().hex}.db"
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}schema=bench_tracing_{uuid.uuid4().hex[:8]}"


def _run_mode(mode: str, endpoint: str, args: argparse.Namespace, folder: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if mode == "on":
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = endpoint
    if mode == "baseline":
        env["PYTHONPATH"] = str(Path(args.baseline_src, "src"))
    command = [
        sys.executable,
        __file__,
        "--child",
        _database(args.database_url, folder),
        "--steps",
        str(args.steps),
        "--inner",
        str(args.inner),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["traced"] != (mode == "on"):  # the baseline has no tracer at all
        raise SystemExit(f"mode {mode}: the worker's tracer was {result['traced']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--inner", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--baseline-src", default=None, help="see above")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_child(args.child, args.steps, args.inner))))
        return 0

    from toolkit.otlp import OtlpReceiver

    modes = ["off", "on"] + (["baseline"] if args.baseline_src else [])
    medians: dict[str, list[float]] = {mode: [] for mode in modes}
    every: dict[str, list[float]] = {mode: [] for mode in modes}
    with OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for mode in modes:
                result = _run_mode(mode, receiver.endpoint, args, folder)
                medians[mode].append(result["us_per_step"])
                every[mode] += result["all"]
                print(
                    f"round {round_ + 1} {mode:>8}: {result['us_per_step']:.1f} us/step", flush=True
                )
        spans = len(receiver.spans)
    where = "SQLite (temp file)" if args.database_url is None else "PostgreSQL"
    print()
    print(f"{where}, {args.steps} steps x {args.inner} runs x {args.rounds} rounds")
    print("(median of the rounds' medians; best: the fastest run, least disturbed by load)")
    print(f"{'tracing':<22}{'median us/step':>16}{'best us/step':>14}")
    labels = {"off": "off", "on": "on (OTLP/HTTP)", "baseline": "before tracing (off)"}
    for mode in modes:
        print(
            f"{labels[mode]:<22}{statistics.median(medians[mode]):>16.1f}{min(every[mode]):>14.1f}"
        )
    print(f"spans received: {spans}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
