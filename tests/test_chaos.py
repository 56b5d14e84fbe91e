"""The chaos suite's short form (``bench/chaos.py --short``) on each backend.

A few dozen workflows while workers are SIGKILLed, a zombie is SIGSTOPped past
its lease and woken, and (on PostgreSQL) a throwaway server of the suite's own
is restarted: no run lost, failed or stuck, no step run again after its
record, no zombie write accepted. The long form's figures are in
docs/durability.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHAOS = Path(__file__).parent.parent / "bench" / "chaos.py"


def have_pg_binaries() -> bool:
    return bool(shutil.which("initdb")) or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@pytest.mark.slow
@pytest.mark.parametrize("chaos_backend", ["sqlite", "postgres"])
def test_chaos_short_form_loses_and_repeats_nothing(chaos_backend: str, tmp_path: Path) -> None:
    if chaos_backend == "postgres" and not have_pg_binaries():
        pytest.skip("no initdb/pg_ctl to start a throwaway PostgreSQL cluster")
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(CHAOS), "--short", "--backend", chaos_backend, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, f"{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
    [report] = json.loads(out.read_text())
    assert report["submitted"] == report["workflows"]
    assert report["steps_recorded"] == report["workflows"] * report["steps"]
    assert report["kills"] >= 1 and report["zombies"] >= 1
    if chaos_backend == "postgres":
        assert report["pg_crashes"] + report["pg_fast_restarts"] >= 1
    assert report["ok"] and report["must_be_zero"]
    for name in report["must_be_zero"]:
        assert report[name] == 0, (name, report["examples"])
