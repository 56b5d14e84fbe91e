"""The step log: what traced steps did, across processes and kills.

A traced step appends ``start|end <execution_id> <step_key> <pid> <time>``
to the file named by ``POLOS_TEST_LOG`` with one ``write`` on an
``O_APPEND`` file, so lines of concurrent processes never interleave and a
SIGKILL cuts at most the last line. Tests read it back as intervals, to
check that a recorded step never ran again and that no execution ever ran
on two processes at once.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

Key = tuple[str, str]  # (execution id, step key)


def log_step(event: str, execution_id: str, step_key: str) -> None:
    """Append one line (``event`` is ``start`` or ``end``) to ``POLOS_TEST_LOG``."""
    line = f"{event} {execution_id} {step_key} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(
        os.environ.get("POLOS_TEST_LOG", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
    )
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@dataclass
class Interval:
    pid: int
    start: float
    end: float | None  # None: the process died inside the step


@dataclass
class StepLog:
    #: Every run of every step, in the order they started.
    runs: dict[Key, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    #: ``(pid, time)`` of each start and each end, per step.
    starts: dict[Key, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    ends: dict[Key, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, path: Path) -> StepLog:
        out = cls()
        if not path.exists():
            return out
        open_runs: dict[tuple[str, str, int], Interval] = {}
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
                out.starts[(eid, key)].append((pid, at))
            else:
                out.ends[(eid, key)].append((pid, at))
                if (eid, key, pid) in open_runs:
                    open_runs.pop((eid, key, pid)).end = at
        return out

    def started(self, step_key: str) -> int:
        """How many times any execution started ``step_key``."""
        return sum(len(v) for (_, key), v in self.starts.items() if key == step_key)
