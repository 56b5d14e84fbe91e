"""The real ``polos-sdk`` client (0.1.15, in a virtualenv of its own) against our server:
it starts a run, reads its status and result, publishes an event, resumes a suspend,
cancels, batches and streams, with an API key, over real HTTP, on both backends.

The virtualenv is the shared ``sdk_python`` fixture (tests/sdk_kit.py), cached in
pytest's cache directory. Without network access (the install fails) the test is
skipped, unless ``CI`` is set: then it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

import server_workflows  # noqa: F401  (defines the srv_* workflows the worker serves)
from polos import Polos
from polos.store.api_keys import new_api_key
from server_kit import serving

SCRIPT = Path(__file__).parent / "data" / "polos_sdk_client_script.py"

pytestmark = pytest.mark.slow


async def test_polos_sdk_client_against_our_server(
    sdk_python: Path, polos: Polos, database_url: str
) -> None:
    key, row = new_api_key("default", "sdk", time.time())
    await polos.client.store.create_api_key(row)
    async with serving(database_url) as s:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLOS_")}
        proc = await asyncio.create_subprocess_exec(
            str(sdk_python),
            str(SCRIPT),
            s.url,
            key,
            env=env,
            cwd=str(SCRIPT.parent),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-3000:]
    got = json.loads(out.decode().strip().splitlines()[-1])

    # start a run, read its status and result
    assert got["invoke"]["workflow_id"] == "srv_echo"
    assert got["get_execution"] == {
        "status": "completed",
        "result": {"input": {"n": 7}, "doubled": 14},
        "session_id": "sdk",
    }
    assert got["handle_get"] == "completed"
    info = await polos.client.get_execution(got["invoke"]["id"])
    assert info.status == "completed" and info.result == {"input": {"n": 7}, "doubled": 14}
    # publish an event: a waiting run receives it
    assert isinstance(got["publish"], int) and got["publish"] >= 1
    assert got["published_run"] == {"ok": 1}
    # resume (Polos's resume_<step key> event on the run's topic) and cancel
    assert got["resume"] == {"yes": True}
    assert got["cancel"] is True and got["cancelled_status"] == "cancelled"
    # the SDK's batch_invoke looks each workflow up in its own process's registry
    # first (docs/polos-compatibility.md): with no workflow defined there, it refuses
    assert got["batch_invoke"] == "ValueError: Workflow 'srv_echo' not found"
    # its SSE reader follows our stream
    assert got["stream_topic"] == [{"ok": 1}]
