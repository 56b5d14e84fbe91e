"""Things made for one worker that must go when the worker stops.

Layers above the runtime (the sandbox manager, say) create resources per
worker on first use; the worker does not know them. They register a closer
under the worker's id here, and ``Worker.stop`` runs the closers once its
executions have stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("polos.worker")

Closer = Callable[[], Awaitable[None]]
_closers: dict[str, list[Closer]] = {}


def on_worker_stop(worker_id: str, closer: Closer) -> None:
    """Run ``closer`` when worker ``worker_id`` stops."""
    _closers.setdefault(worker_id, []).append(closer)


async def close_worker_resources(worker_id: str) -> None:
    """Run (and forget) the closers of ``worker_id``; a failing one does not stop the rest."""
    for closer in _closers.pop(worker_id, []):
        try:
            await closer()
        except Exception as exc:
            log.warning("worker %s: releasing a resource failed: %s", worker_id, exc)
