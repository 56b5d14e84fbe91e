"""schemathesis against ``/openapi.json`` over real HTTP, on SQLite and PostgreSQL: every
documented operation is sent generated requests (valid and invalid); no response is a
5xx, and every response matches the document (status code, body schema, content type).

The server (``polos server``) and the fuzzer (``tests/data/fuzz_openapi.py``) run as
processes of their own: with the server inside the test process, a PostgreSQL test set
up after the SQLite fuzz hung in its fixture (not understood yet). The live stream
(``GET /api/v1/events/stream``) is left out: its response never ends, so a generated
request would only wait; its bad input has tests of its own
(``tests/test_server_robustness.py``, ``tests/test_server_events.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("schemathesis")

EXAMPLES = 40
SCRIPT = Path(__file__).parent / "data" / "fuzz_openapi.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fuzz_the_whole_api(database_url: str) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "polos.cli", "server", "--port", str(port), "-d", database_url],
        env={**os.environ, "POLOS_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.1)
        done = subprocess.run(
            [sys.executable, str(SCRIPT), url, str(EXAMPLES)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.terminate()
        server.wait(20)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ran"] >= 24  # every route but the live stream
    assert report["failures"] == []
