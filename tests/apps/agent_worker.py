"""A worker process serving the test agents (for the agent crash test)."""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import agent_defs  # noqa: F401  (registers the agents and tools)
from polos import Worker
from polos.runtime.worker import wait_for_signal


async def main() -> None:
    worker = Worker(poll_interval=0.05, lease_seconds=30)
    await worker.start()
    print("ready", flush=True)
    try:
        await wait_for_signal()
    finally:
        await worker.stop()


if __name__ == "__main__":
    asyncio.run(main())
