"""Run one benchmark case in this (fresh) process and print its result as JSON.

``bench_core.py`` starts one such process per case and round, so that no
engine's background threads, caches or imports disturb another's timings.
Usage: ``python bench/run_case.py CASE '<target json>' '<params json>'``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from typing import Any

#: Case name -> (module in bench/, function). Modules load lazily, so a
#: Polos case never imports DBOS and the other way round.
CASES: dict[str, tuple[str, str]] = {
    "sqlite_insert": ("case_reference", "sqlite_insert"),
    "postgres_insert": ("case_reference", "postgres_insert"),
    "sqlite_insert_after": ("case_reference", "sqlite_insert"),
    "postgres_insert_after": ("case_reference", "postgres_insert"),
    "polos_steps": ("case_polos", "polos_steps"),
    "polos_steps_plain": ("case_polos", "polos_steps_plain"),
    "polos_steps_inline": ("case_polos", "polos_steps_inline"),
    "polos_throughput": ("case_polos", "polos_throughput"),
    "polos_throughput_concurrent": ("case_polos", "polos_throughput_concurrent"),
    "polos_replay": ("case_polos", "polos_replay"),
    "dbos_steps_sync": ("case_dbos", "dbos_steps_sync"),
    "dbos_steps_async": ("case_dbos", "dbos_steps_async"),
    "dbos_throughput_sync": ("case_dbos", "dbos_throughput_sync"),
    "dbos_throughput_async": ("case_dbos", "dbos_throughput_async"),
    "dbos_throughput_concurrent": ("case_dbos", "dbos_throughput_concurrent"),
    "dbos_throughput_sync_concurrent": ("case_dbos", "dbos_throughput_sync_concurrent"),
}

RESULT_PREFIX = "BENCH-RESULT "


def run(case: str, target: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    module_name, function_name = CASES[case]
    function = getattr(importlib.import_module(module_name), function_name)
    if inspect.iscoroutinefunction(function):
        result: dict[str, Any] = asyncio.run(function(target, params))
    else:
        result = function(target, params)
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in CASES:
        print(f"usage: {argv[0]} {{{','.join(CASES)}}} TARGET_JSON PARAMS_JSON", file=sys.stderr)
        return 2
    result = run(argv[1], json.loads(argv[2]), json.loads(argv[3]))
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
