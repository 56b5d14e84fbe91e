"""The one worker process of the tests (and the chaos suite): ``python worker_app.py``.

Serves the workflows of the test modules named in ``POLOS_TEST_MODULES``
(comma-separated; default ``crash_workflows``), on ``POLOS_DATABASE_URL``.
Prints ``ready`` once it is claiming work, then serves until SIGTERM/SIGINT
(graceful) or SIGKILL (a crash). ``POLOS_TEST_SLOTS``, ``POLOS_TEST_LEASE``,
``POLOS_TEST_GRACE`` and ``POLOS_TEST_POLL`` tune the worker;
``POLOS_TEST_INVOKE="<workflow id> <json payload>"`` has it invoke one run
itself once ready (and print ``invoked <id>``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # tests/apps and tests/

from polos import Worker  # noqa: E402
from polos.runtime.worker import wait_for_signal  # noqa: E402


async def main() -> None:
    for module in os.environ.get("POLOS_TEST_MODULES", "crash_workflows").split(","):
        importlib.import_module(module)  # registers its workflows
    worker = Worker(
        max_concurrent_workflows=int(os.environ.get("POLOS_TEST_SLOTS", "50")),
        lease_seconds=float(os.environ.get("POLOS_TEST_LEASE", "30")),
        shutdown_grace_seconds=float(os.environ.get("POLOS_TEST_GRACE", "5")),
        poll_interval=float(os.environ.get("POLOS_TEST_POLL", "0.05")),
    )
    await worker.start()
    print("ready", flush=True)
    if os.environ.get("POLOS_TEST_INVOKE"):
        # A run submitted by this very process: its worker may start it at once.
        workflow_id, payload = os.environ["POLOS_TEST_INVOKE"].split(" ", 1)
        handle = await worker.client.invoke(workflow_id, json.loads(payload))
        print(f"invoked {handle.id}", flush=True)
    try:
        await wait_for_signal()
    finally:
        await worker.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main())
