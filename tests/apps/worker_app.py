"""A worker process for the crash tests: ``python worker_app.py``.

Reads ``POLOS_DATABASE_URL``; prints ``ready`` once it is claiming work, then
serves until SIGTERM/SIGINT (graceful) or SIGKILL (a crash).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import crash_workflows  # noqa: F401  (registers the workflows)

from polos import Worker


async def main() -> None:
    worker = Worker(
        max_concurrent_workflows=int(os.environ.get("POLOS_TEST_SLOTS", "50")),
        lease_seconds=float(os.environ.get("POLOS_TEST_LEASE", "30")),
        shutdown_grace_seconds=float(os.environ.get("POLOS_TEST_GRACE", "5")),
        poll_interval=0.05,
    )
    await worker.start()
    print("ready", flush=True)
    from polos.runtime.worker import wait_for_signal

    try:
        await wait_for_signal()
    finally:
        await worker.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
