"""Code changing under waiting runs, with real worker processes on both backends.

A worker process of deployment v1 (code v1) starts runs that park on an event;
it stops. The runs, pinned to v1, are then visible in ``polos list`` and
``polos show`` as served by no worker. A worker process of deployment v2
(code v2, told to serve v1 too) finishes them: the old pricing run keeps the
old branch through ``ctx.patched``, a new run takes the new one, and the run
whose step key v2 renamed gets a ``replay_mismatch`` entry in its history.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from polos import PolosClient
from toolkit.processes import SRC, WorkerProcess
from toolkit.waiting import until

SERVE = {"modules": "version_workflows", "POLOS_TEST_GRACE": "2"}


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POLOS_DATABASE_URL": url,
        "COLUMNS": "200",
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    env.pop("POLOS_DEPLOYMENT_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "polos.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def status_is(client: PolosClient, execution_id: str, status: str) -> None:
    async def check() -> bool:
        return (await client.get_execution(execution_id)).status == status

    await until(check, 20, f"{execution_id} to be {status}", poll=0.05)


async def test_runs_started_on_v1_finish_on_v2(database_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]

    def payload(name: str) -> dict[str, str]:
        return {"tag": tag, "log": str(tmp_path / f"{name}.log")}

    def lines(name: str) -> list[str]:
        path = tmp_path / f"{name}.log"
        return path.read_text().splitlines() if path.exists() else []

    async with PolosClient(database_url=database_url) as client:

        async def approve(execution_id: str, step: str) -> None:
            await client.publish(f"ver/{tag}/{execution_id}", {"ok": True}, step)

        v1 = WorkerProcess(
            database_url,
            tmp_path / "v1.log",
            POLOS_DEPLOYMENT_ID="v1",
            POLOS_TEST_CODE="v1",
            **SERVE,
        )
        try:
            old = await client.invoke("ver_pricing", payload("old"))
            renamed = await client.invoke("ver_rename", payload("renamed"))
            await status_is(client, old.id, "waiting")
            await status_is(client, renamed.id, "waiting")
        finally:
            v1.stop()
        info = await client.get_execution(old.id)
        assert info.deployment_id == "v1", "pinned to the deployment it started on"
        assert info.deployment_served is False, "its worker is gone"
        await approve(old.id, "approval")
        await approve(renamed.id, "go")
        await status_is(client, old.id, "queued")

        listed = cli("list", url=database_url)
        assert listed.returncode == 0, listed.stderr
        [row] = [line for line in listed.stdout.splitlines() if old.id in line]
        assert "queued (no worker for v1)" in row
        shown = cli("show", old.id, url=database_url)
        assert shown.returncode == 0, shown.stderr
        assert "v1  (no live worker serves it" in shown.stdout
        as_json = json.loads(cli("show", old.id, "--json", url=database_url).stdout)
        assert (as_json["deployment_id"], as_json["deployment_served"]) == ("v1", False)

        v2 = WorkerProcess(
            database_url,
            tmp_path / "v2.log",
            POLOS_DEPLOYMENT_ID="v2",
            POLOS_TEST_CODE="v2",
            POLOS_SERVE_DEPLOYMENTS="v1",
            **SERVE,
        )
        try:
            new = await client.invoke("ver_pricing", payload("new"))
            await status_is(client, new.id, "waiting")
            await approve(new.id, "approval")
            old_result = await old.result(timeout=20)
            new_result = await new.result(timeout=20)
            assert await renamed.result(timeout=20) == "done"
            shown_renamed = cli("show", renamed.id, url=database_url)
        finally:
            output = v2.stop()
        assert old_result == {"price": "price", "charged": "charge:price", "code": "v2"}, output
        assert new_result == {"price": "price_v2", "charged": "charge:price_v2", "code": "v2"}
        assert lines("old") == ["price", "charge:price"], "the old run's price never ran twice"
        assert lines("new") == ["price_v2", "charge:price_v2"]
        assert (await client.get_execution(new.id)).deployment_id == "v2"
        # The renamed key: the step ran again under its new name, and that is reported.
        assert lines("renamed") == ["notify", "notify"]
        history = (await client.get_execution(renamed.id)).history
        [mismatch] = [h for h in history if h.event == "replay_mismatch"]
        assert mismatch.detail is not None and mismatch.detail["unconsumed"] == ["notify"]
        assert shown_renamed.returncode == 0 and "replay_mismatch" in shown_renamed.stdout
        assert "replay mismatch" in output, "the worker warned in its log"
