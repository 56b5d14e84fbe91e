"""The project's own Polos-style program (examples/polos_api_tour.py) prints the
right things on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOUR = Path(__file__).parent.parent / "examples" / "polos_api_tour.py"

EXPECTED = [
    "workflows: ['tour_batch', 'tour_nightly', 'tour_refund', 'tour_slow', 'tour_waiter']",
    "suspended at: approve_refund",
    "form title: Refund 19.50?",
    "has approval url: True",
    "stream ends with: workflow_finish",
    "status: completed result: {'approved': True, 'stamp_is_int': True, 'seen': 1}",
    "handle as dict has id: True",
    "sequence id is an int: True",
    "waiter got: go:3",
    "batch sum: 9",
    "schedule id: tour_nightly:eu",
    "cancelled: True True",
    "cancel again: True",
]


def test_the_tour_prints_polos_shapes(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "POLOS_DATABASE_URL": database_url, "TMPDIR": str(tmp_path)}
    env.pop("POLOS_API_URL", None)
    done = subprocess.run(
        [sys.executable, str(TOUR)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == EXPECTED, done.stdout
    assert (
        "polos.worker" in (tmp_path / "polos-api-tour.log").read_text()
    )  # log_file= took the logs
