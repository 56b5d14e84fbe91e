"""Profile the Polos hot path: the N-step workflow and the 3-step throughput run.

    .venv/bin/python bench/profile_core.py [--case steps|throughput|both]
        [--profiler cprofile|pyinstrument] [--steps 1000] [--workflows 500]
        [--database-url postgresql://postgres@127.0.0.1:5432/test?schema=bench_prof]

Runs in this process on a fresh temp SQLite file (WAL, synchronous=NORMAL),
or a fresh schema of the PostgreSQL database given, warms up, then profiles one timed run. cProfile (stdlib) shows where CPU goes
function by function; pyinstrument (``pip install pyinstrument``) shows the
wall-clock call tree, event loop included. Reports go to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from _targets import TargetFactory, polos_url
from bench_core import polos_source
from case_polos import sequential, three_steps
from polos import Polos

BENCH_DIR = Path(__file__).resolve().parent

Job = Callable[[Polos], Awaitable[None]]


def steps_job(n: int) -> Job:
    async def job(polos: Polos) -> None:
        assert await sequential.run(polos, n) == n

    return job


def throughput_job(m: int) -> Job:
    async def job(polos: Polos) -> None:
        handles = [await three_steps.invoke(polos, i) for i in range(m)]
        for handle in handles:
            await polos.wait_for_result(handle.id)

    return job


async def _profiled(url: str, job: Job, warmup: Job, profiler: str) -> tuple[float, str]:
    async with Polos(database_url=url, workflows=[sequential, three_steps]) as polos:
        await warmup(polos)
        if profiler == "pyinstrument":
            from pyinstrument import Profiler

            prof = Profiler(interval=0.0002, async_mode="disabled")
            prof.start()
            started = time.perf_counter()
            await job(polos)
            elapsed = time.perf_counter() - started
            prof.stop()
            return elapsed, prof.output_text(unicode=False, color=False, show_all=False)
        cprof = cProfile.Profile()
        cprof.enable()
        started = time.perf_counter()
        await job(polos)
        elapsed = time.perf_counter() - started
        cprof.disable()
        return elapsed, _cprofile_text(cprof)


def _cprofile_text(cprof: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(cprof, stream=out)
    stats.sort_stats("tottime").print_stats(35)
    stats.sort_stats("cumulative").print_stats(35)
    return out.getvalue()


def profile_case(case: str, profiler: str, n: int, m: int, database_url: str | None) -> Path:
    job, warmup = (
        (steps_job(n), steps_job(50))
        if case == "steps"
        else (throughput_job(m), throughput_job(20))
    )
    factory = TargetFactory(database_url)
    try:
        url = polos_url(factory.fresh(f"profile_{case}"))
        elapsed, report = asyncio.run(_profiled(url, job, warmup, profiler))
    finally:
        factory.close()
    unit = f"{elapsed / n * 1e6:.1f} us/step" if case == "steps" else f"{m / elapsed:,.0f} wf/s"
    source = polos_source()
    header = (
        f"# {case} under {profiler} on {factory.kind}: {elapsed * 1000:.1f} ms ({unit}, "
        f"profiler overhead included)\n# polos {source.get('commit')} from {source['path']}\n"
    )
    path = BENCH_DIR / "results" / f"profile-{factory.kind}-{case}-{profiler}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + report)
    print(header)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--case", choices=["steps", "throughput", "both"], default="both")
    parser.add_argument("--profiler", choices=["cprofile", "pyinstrument"], default="cprofile")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workflows", type=int, default=500)
    parser.add_argument("--database-url", default=None, help="as for bench_core.py")
    args = parser.parse_args()
    cases = ["steps", "throughput"] if args.case == "both" else [args.case]
    for case in cases:
        path = profile_case(case, args.profiler, args.steps, args.workflows, args.database_url)
        print(f"wrote {path.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
