"""Core benchmarks of Polos against a raw INSERT and against DBOS Transact.

    .venv/bin/python bench/bench_core.py [--database-url URL] [--steps 1000]
        [--workflows 500] [--repeats 5]

Every case of every round runs in its own fresh process on its own fresh
database (a temp SQLite file in WAL mode with synchronous=NORMAL, or a fresh
PostgreSQL schema), and the cases of one round run back to back, so each
ratio is taken between numbers measured within the same minute. The table
shows medians over the rounds; the JSON in bench/results/ keeps every round.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _report import CASE_INFO, Rounds, ratios, summarize, table
from _targets import TargetFactory
from run_case import RESULT_PREFIX

BENCH_DIR = Path(__file__).resolve().parent
RUN_CASE = BENCH_DIR / "run_case.py"
CASE_TIMEOUT_S = 900


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="sqlite:///path/prefix.db (fresh files are made next to it; default: the system "
        "temp dir) or postgresql://user@host:5432/db?schema=bench_x (fresh schemas bench_x_*)",
    )
    parser.add_argument("--steps", type=int, default=1000, help="steps in the sequential workflow")
    parser.add_argument(
        "--workflows", type=int, default=500, help="3-step workflows per throughput run"
    )
    parser.add_argument(
        "--callers",
        type=int,
        default=50,
        help="concurrent callers submitting runs in the concurrent throughput cases",
    )
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the table shows medians")
    parser.add_argument(
        "--inner", type=int, default=3, help="timed N-step runs per process (their median counts)"
    )
    parser.add_argument("--no-dbos", action="store_true", help="skip the DBOS cases")
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    return parser.parse_args(argv)


def plan(backend: str, with_dbos: bool) -> list[str]:
    """The cases of one round, interleaved so that drift hits every engine alike.

    The raw INSERT runs before and after the Polos steps cases (the ratios
    take the mean of the two), and the concurrent throughput cases of both
    engines run back to back, as do the one-after-another ones."""
    reference = "sqlite_insert" if backend == "sqlite" else "postgres_insert"
    dbos_steps = ["dbos_steps_sync", "dbos_steps_async"] if with_dbos else []
    dbos_tp = ["dbos_throughput_sync", "dbos_throughput_async"] if with_dbos else []
    dbos_ctp = (
        ["dbos_throughput_concurrent", "dbos_throughput_sync_concurrent"] if with_dbos else []
    )
    polos_steps = ["polos_steps", "polos_steps_plain", "polos_steps_inline"]
    return [
        reference,
        *polos_steps,
        f"{reference}_after",
        *dbos_steps,
        "polos_throughput",
        *dbos_tp,
        "polos_throughput_concurrent",
        *dbos_ctp,
        "polos_replay",
    ]


def run_child(case: str, target: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Run one case in a fresh interpreter; raises RuntimeError with its stderr on failure."""
    command = [sys.executable, str(RUN_CASE), case, json.dumps(target), json.dumps(params)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CASE_TIMEOUT_S, cwd=BENCH_DIR.parent
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{case} did not finish within {CASE_TIMEOUT_S}s") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
    raise RuntimeError(f"{case} exited with {done.returncode}:\n{tail}")


def run_rounds(
    args: argparse.Namespace, factory: TargetFactory, cases: list[str]
) -> tuple[Rounds, dict[str, str]]:
    params = {
        "steps": args.steps,
        "workflows": args.workflows,
        "inner": args.inner,
        "callers": args.callers,
    }
    rounds: Rounds = {case: [] for case in cases}
    errors: dict[str, str] = {}
    for i in range(args.repeats):
        for case in cases:
            if case in errors:
                continue  # a case that cannot run here fails the same way every round
            target = factory.fresh(f"{case}_{i}")
            started = time.perf_counter()
            try:
                result = run_child(case, target, params)
            except RuntimeError as exc:
                errors[case] = str(exc)
                print(f"  round {i + 1}: {case}: FAILED\n{_indent(str(exc))}", flush=True)
                continue
            finally:
                factory.discard(target)
            rounds[case].append(result)
            key, unit = CASE_INFO[case][1], CASE_INFO[case][2]
            print(
                f"  round {i + 1}/{args.repeats}: {case:<24} {result[key]:>12,.1f} {unit:<5}"
                f" ({time.perf_counter() - started:.1f}s wall)",
                flush=True,
            )
    return rounds, errors


def dbos_unavailable() -> str | None:
    """Why DBOS cannot run here, or None."""
    if importlib.util.find_spec("dbos") is None:
        return "the dbos package is not installed: .venv/bin/pip install -e '.[bench]'"
    return None


def machine() -> dict[str, Any]:
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "polos": polos_source(),
        "dbos": _version("dbos"),
    }


def polos_source() -> dict[str, Any]:
    """Which polos the children import: its folder, git commit and uncommitted changes."""
    spec = importlib.util.find_spec("polos")
    if spec is None or spec.origin is None:
        return {"path": None}
    folder = Path(spec.origin).parent
    return {
        "path": str(folder),
        "commit": _git(folder, "rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git(folder, "status", "--porcelain", "--", ".")),
    }


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=folder)
    except OSError:
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def write_results(args: argparse.Namespace, payload: dict[str, Any]) -> Path:
    output_dir: Path = args.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = output_dir / f"core-{payload['backend']}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On SIGTERM, unwind normally so that temp files and schemas are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    factory = TargetFactory(args.database_url)
    backend = factory.kind
    skipped = "--no-dbos was given" if args.no_dbos else dbos_unavailable()
    cases = plan(backend, with_dbos=skipped is None)
    info = machine()
    print(f"Polos core benchmarks on {factory.description}")
    print(f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, DBOS {info['dbos']}")
    source = info["polos"]
    dirty = " + uncommitted changes" if source.get("uncommitted_changes") else ""
    print(f"polos from {source['path']} at {source.get('commit')}{dirty}")
    print(
        f"N={args.steps} steps (median of {args.inner} runs per process), "
        f"M={args.workflows} workflows ({args.callers} concurrent callers in the concurrent "
        f"cases), {args.repeats} round(s)\n",
        flush=True,
    )
    try:
        rounds, errors = run_rounds(args, factory, cases)
    finally:
        factory.close()
    if skipped:
        errors.update({c: f"DBOS not run: {skipped}" for c in CASE_INFO if c.startswith("dbos")})
    summary = summarize({c: r for c, r in rounds.items() if r})
    ratio_list = ratios(rounds, backend)
    header = (
        f"Results ({backend}, N={args.steps}, M={args.workflows}, "
        f"median of {args.repeats} round(s), {info['date']})"
    )
    print("\n" + table(summary, ratio_list, errors, header))
    path = write_results(
        args,
        {
            "backend": backend,
            "database": factory.description,
            "params": {
                "steps": args.steps,
                "workflows": args.workflows,
                "repeats": args.repeats,
                "inner": args.inner,
                "callers": args.callers,
            },
            "machine": info,
            "summary": summary,
            "ratios": {r.name: r.as_json() for r in ratio_list},
            "rounds": rounds,
            "errors": errors,
        },
    )
    print(
        f"\nwrote {path.relative_to(BENCH_DIR.parent) if path.is_relative_to(BENCH_DIR.parent) else path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
