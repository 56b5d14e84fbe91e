"""A worker's first start freezes the process's long-lived objects and raises the
young generation's threshold, once.

Each case runs in a fresh interpreter: the freeze is once per process, so the
test process's own earlier workers would hide it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from polos.runtime.collector import YOUNG_THRESHOLD

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, json, os, sys, weakref
    from polos import Polos, WorkflowContext, workflow

    if os.environ.get("PRESET_THRESHOLD"):  # a program that tunes gc itself
        gc.set_threshold(*map(int, os.environ["PRESET_THRESHOLD"].split(",")))

    @workflow(id="gc_freeze_echo")
    async def echo(ctx: WorkflowContext, payload: dict) -> dict:
        return payload

    class Node:
        pass

    def walked(obj) -> bool:
        # Whether full collections still walk obj (frozen ones are not listed).
        return any(o is obj for o in gc.get_objects())

    async def main() -> None:
        before = gc.get_freeze_count()
        threshold_before = gc.get_threshold()
        early = [Node()]  # alive across the first start
        garbage = Node()
        garbage.self = garbage  # a cycle: only the collector frees it
        dead = weakref.ref(garbage)
        gc.collect()  # survives: now in the oldest generation
        del garbage  # garbage only a full collection frees
        url = sys.argv[1]
        async with Polos(database_url=url, workflows=[echo]) as polos:
            result = await echo.run(polos, {"n": 1})
            first = gc.get_freeze_count()
            threshold_first = gc.get_threshold()
        later = [Node()]  # made after the first start, alive across the second
        async with Polos(database_url=url, workflows=[echo]) as polos:
            again = await echo.run(polos, {"n": 2})
            second = gc.get_freeze_count()
        print(json.dumps({
            "before": before, "first": first, "second": second,
            "thresholds": [threshold_before, threshold_first, gc.get_threshold()],
            "garbage_freed": dead() is None,
            "early_walked": walked(early), "later_walked": walked(later), "results": [result, again],
        }))

    asyncio.run(main())
    """
)


def _run(tmp_path: Path, **env: str) -> dict[str, object]:
    script = tmp_path / "freeze.py"
    script.write_text(SCRIPT)
    environment = {k: v for k, v in os.environ.items() if k != "POLOS_GC_FREEZE"}
    done = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{tmp_path}/gc.db"],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_first_worker_start_collects_then_freezes_and_later_starts_do_not(tmp_path: Path) -> None:
    seen = _run(tmp_path)
    assert seen["results"] == [{"n": 1}, {"n": 2}]
    assert seen["before"] == 0
    assert isinstance(seen["first"], int) and seen["first"] > 1000
    assert seen["early_walked"] is False  # frozen at the first start
    assert seen["later_walked"] is True  # the second start froze nothing
    assert seen["garbage_freed"] is True  # collected first: garbage is not frozen
    before, first, second = seen["thresholds"]
    assert before[0] < YOUNG_THRESHOLD
    # The young generation's threshold raised once; the older ones as they were.
    assert first == second == [YOUNG_THRESHOLD, *before[1:]]


def test_a_young_threshold_the_program_set_higher_is_kept(tmp_path: Path) -> None:
    seen = _run(tmp_path, PRESET_THRESHOLD="200000,5,7")
    assert seen["results"] == [{"n": 1}, {"n": 2}]
    assert seen["first"] > 1000  # still frozen
    assert seen["thresholds"] == [[200000, 5, 7]] * 3


def test_polos_gc_freeze_0_leaves_the_collector_alone(tmp_path: Path) -> None:
    seen = _run(tmp_path, POLOS_GC_FREEZE="0")
    assert seen["results"] == [{"n": 1}, {"n": 2}]
    assert seen["first"] == seen["second"] == 0
    assert seen["early_walked"] is True
    assert seen["thresholds"][0] == seen["thresholds"][1] == seen["thresholds"][2]
