"""A worker SIGKILLed while its Docker sandbox runs a command: nothing leaks.

The killed worker's container (still running the command: killing the
``docker exec`` client does not stop it) is removed by the next worker to
make a sandbox on the same database, which starts a new container over the
same workspace folder, so the files written before the crash are still
there. The recorded tool call is not run again; the interrupted one is, once.
When the run ends, no container of this database is left. On SQLite and
PostgreSQL, in real Docker (skipped without it; a failure under CI=true).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from example_agents_kit import last_output
from polos import PolosClient
from polos.execution.sandbox_manager import store_label
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn
from toolkit.docker import (
    TEST_IMAGE,
    ensure_image,
    managed_containers,
    remove_containers,
    require_docker,
)
from toolkit.processes import WorkerProcess

pytestmark = pytest.mark.slow


async def test_killed_workers_container_is_reclaimed_and_the_run_finishes(
    database_url: str, tmp_path: Path
) -> None:
    require_docker()
    ensure_image(TEST_IMAGE)
    root = tmp_path / "workspaces"
    log = tmp_path / "worker.log"

    def answer(request: RecordedRequest) -> Turn:
        return Turn.reply(last_output(request)["stdout"])

    script = [
        Turn.call("exec", {"command": "echo one >> log.txt"}),
        Turn.call(
            "exec",
            {"command": "echo two >> log.txt; if [ ! -e flag ]; then touch flag; sleep 60; fi"},
        ),
        Turn.call("exec", {"command": "cat log.txt"}),
        answer,
    ]
    mine = ""
    with FakeOpenAIServer(script) as llm:
        env = {
            "POLOS_TEST_LLM_URL": llm.base_url,
            "POLOS_WORKSPACES_DIR": str(root),
            "POLOS_TEST_IMAGE": TEST_IMAGE,
        }
        async with PolosClient(database_url=database_url) as client:
            await client.start()
            mine = f"polos.store={store_label(client.store)}"
            worker = WorkerProcess(database_url, log, modules="sandbox_docker_agents", **env)
            try:
                handle = await client.invoke("sbx_docker_agent", {"input": "go"})
                for _ in range(1500):
                    if list(root.glob("default/*/flag")):
                        break
                    await asyncio.sleep(0.02)
                assert list(root.glob("default/*/flag")), worker.output()
                [crashed] = managed_containers(mine)
                worker.kill()  # mid-exec: the container keeps running `sleep 60`
                assert managed_containers(mine) == [crashed]
                restarted = WorkerProcess(database_url, log, modules="sandbox_docker_agents", **env)
                try:
                    result = await handle.result(client, timeout=60)
                    # The run ended: its sandbox goes, and nothing else is left.
                    for _ in range(500):
                        if not managed_containers(mine):
                            break
                        await asyncio.sleep(0.02)
                    left = managed_containers(mine)
                finally:
                    restarted.stop()
            finally:
                worker.kill()
                remove_containers(managed_containers(mine))
        requests = len(llm.requests)
    assert result.text == "one\ntwo\ntwo\n"  # files survived the new container
    assert requests == 4, "a recorded LLM call was paid twice"
    assert left == [], f"containers left behind: {left}"
    assert not list(root.glob("default/*")), "the run's workspace was not removed"
