"""Run a polos-sdk 0.1.15 ``Worker`` the way a Polos user does, for tests (SDK venv only).

The environment (POLOS_API_URL, POLOS_PROJECT_ID, POLOS_LOCAL_MODE,
POLOS_WORKER_SERVER_URL, POLOS_DEPLOYMENT_ID) configures client and worker.
One thing differs: polos-sdk 0.1.15's push server always listens on port 8000,
whatever POLOS_WORKER_SERVER_URL says, so several workers on one machine would
collide; here it listens on the port of POLOS_WORKER_SERVER_URL.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import urlparse

from polos import PolosClient, Worker


def run_worker(
    workflows: list[Any] | None = None,
    agents: list[Any] | None = None,
    tools: list[Any] | None = None,
    **options: Any,
) -> None:
    logging.basicConfig(level=logging.INFO)
    port = urlparse(os.environ["POLOS_WORKER_SERVER_URL"]).port or 8000
    client = PolosClient()
    worker = Worker(client=client, workflows=workflows, agents=agents, tools=tools, **options)
    setup = worker._setup_worker_server

    def setup_on_port() -> None:
        setup()
        assert worker.worker_server is not None
        worker.worker_server.port = port

    worker._setup_worker_server = setup_on_port  # type: ignore[method-assign]
    asyncio.run(worker.run())
