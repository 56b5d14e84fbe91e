"""Is a worker process provably dead? Used to recover its runs without waiting out a lease."""

from __future__ import annotations

import os
import socket

HOSTNAME = socket.gethostname()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # The state letter follows the parenthesised command name.
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def provably_dead(hostname: str, pid: int) -> bool:
    """True only for a process on this host whose pid no longer exists."""
    return hostname == HOSTNAME and not pid_alive(pid)
