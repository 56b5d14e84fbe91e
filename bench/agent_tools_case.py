"""One case of ``bench_agent_tools.py`` in a process of its own, as a JSON line.

    PYTHONPATH=<snapshot>/src .venv/bin/python bench/agent_tools_case.py N [DATABASE_URL]
        (environment: HELD=1 to hold parked runs, REPS=k for the median of k runs)

For comparing two snapshots in turns on the same load: each case starts a
fresh interpreter, so the polos on ``PYTHONPATH`` is the one measured, and
nothing one case leaves behind (caches, the heap, the collector's counts) is
in the next. Besides the bench's figures it reports the process's CPU time
and the full (generation 2) garbage collections made while measuring: how
many, and the seconds they took (from ``gc.callbacks``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENAI_API_KEY", "bench")

import bench_agent_tools as bench
import polos

_full: dict[str, float] = {"count": 0, "seconds": 0.0, "started": 0.0}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _full["started"] = time.perf_counter()
    else:
        _full["count"] += 1
        _full["seconds"] += time.perf_counter() - _full["started"]


async def main() -> None:
    calls = int(sys.argv[1])
    url = sys.argv[2] if len(sys.argv) > 2 else None
    held = os.environ.get("HELD") == "1"
    repeats = int(os.environ.get("REPS", "1"))
    with tempfile.TemporaryDirectory() as tmp:
        await bench.one_run(f"sqlite:///{tmp}/warm-up.db", 3, 10.0)  # first-use costs
        gc.callbacks.append(_on_gc)
        cpu = time.process_time()
        case = await bench.measure(url, tmp, calls, held, repeats)
        cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "polos": os.path.dirname(polos.__file__),
                "n": calls,
                "held": held,
                "wall_s": case.wall_s,
                "model_s": case.model_s,
                "overhead_ms": case.overhead_ms,
                "cpu_ms": case.cpu_ms,
                "process_cpu_s": cpu,
                "gen2": _full["count"],
                "gen2_s": round(_full["seconds"], 2),
                "load": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
