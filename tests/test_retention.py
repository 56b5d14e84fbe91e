"""Retention, through the public API and the CLI on both backends.

``polos purge`` (a real process) deletes finished run trees with their
children and leaves queued, running and waiting runs and any tree with an
unfinished run alone; a purge running while a worker runs workflows loses
none of their work; workers apply the retention settings (a default and each
workflow's own) in a sweep only one of them runs at a time.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from polos import Polos, WorkflowContext, workflow
from polos.engine.retention import purge
from polos.errors import ExecutionNotFoundError, WorkflowDefinitionError
from polos.runtime.worker import Worker

RAN: Counter[str] = Counter()


@workflow(id="ret_child")
async def ret_child(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("double", lambda: n * 2)


@workflow(id="ret_parent")
async def ret_parent(ctx: WorkflowContext, n: int) -> int:
    return int(await ctx.step.invoke_and_wait("child", ret_child, n)) + 1


@workflow(id="ret_fails")
async def ret_fails(ctx: WorkflowContext) -> None:
    raise RuntimeError("boom")


@workflow(id="ret_waits")
async def ret_waits(ctx: WorkflowContext, topic: str) -> Any:
    return (await ctx.step.wait_for_event("go", topic)).data


@workflow(id="ret_spawns")
async def ret_spawns(ctx: WorkflowContext, topic: str) -> str:
    """Ends at once, leaving a child that waits: its tree is unfinished."""
    await ctx.step.invoke("fire", ret_waits, topic)
    return "spawned"


@workflow(id="ret_steps")
async def ret_steps(ctx: WorkflowContext, n: int) -> int:
    """Counts each step it really runs: a replay after a purge took its
    records would run a step twice."""

    def count(key: str) -> int:
        RAN[f"{ctx.execution_id}/{key}"] += 1
        return n

    await ctx.step.run("a", count, "a")
    await ctx.step.wait_for("nap", seconds=0.02)
    return int(await ctx.step.run("b", count, "b"))


@workflow(id="ret_default")
async def ret_default(ctx: WorkflowContext) -> str:
    return "default"


@workflow(id="ret_forever", retention="forever")
async def ret_forever(ctx: WorkflowContext) -> str:
    return "forever"


@workflow(id="ret_hour", retention="1h")
async def ret_hour(ctx: WorkflowContext) -> str:
    return "hour"


@workflow(id="ret_second", retention=0.5)
async def ret_second(ctx: WorkflowContext) -> str:
    return "second"


def cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polos.cli", *args],
        cwd=cwd,
        env={**os.environ, "POLOS_DATABASE_URL": url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def gone(p: Polos, execution_id: str) -> bool:
    try:
        await p.get_execution(execution_id)
    except ExecutionNotFoundError:
        return True
    return False


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_cli_purge_takes_finished_trees_only(
    polos: Polos, database_url: str, tmp_path: Path
) -> None:
    p = polos
    parents = [await p.invoke("ret_parent", n) for n in range(3)]
    assert [await p.wait_for_result(h.id) for h in parents] == [1, 3, 5]
    children = {h.id: (await p.store.list_run_tree(h.id))[1].id for h in parents}
    failed = await p.invoke("ret_fails")
    with pytest.raises(Exception, match="boom"):
        await p.wait_for_result(failed.id)
    waiting = await p.invoke("ret_waits", "ret.go")
    spawner = await p.invoke("ret_spawns", "ret.spawned")
    assert await p.wait_for_result(spawner.id) == "spawned"
    [spawned] = [r for r in await p.store.list_run_tree(spawner.id) if r.id != spawner.id]

    async def parked() -> bool:
        rows = [await p.store.get_execution(i) for i in (waiting.id, spawned.id)]
        return all(r is not None and r.status == "waiting" for r in rows)

    await until(parked)

    dry = cli("purge", "--older-than", "0s", "--dry-run", "--json", url=database_url, cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    counted = json.loads(dry.stdout)
    assert counted["dry_run"] is True
    assert (counted["trees"], counted["executions"]) == (4, 7)  # 3 parents + children, 1 failed
    assert counted["steps"] is None  # a dry run counts trees and runs only
    assert not await gone(p, failed.id)

    only_failed = cli(
        "purge",
        "--older-than",
        "0s",
        "--status",
        "failed",
        "--json",
        url=database_url,
        cwd=tmp_path,
    )
    assert only_failed.returncode == 0, only_failed.stderr
    assert json.loads(only_failed.stdout)["trees"] == 1
    assert await gone(p, failed.id)
    assert not await gone(p, parents[0].id)

    # Finished too recently for a day's cutoff: nothing goes.
    recent = cli("purge", "--older-than", "1d", url=database_url, cwd=tmp_path)
    assert recent.returncode == 0, recent.stderr
    assert "purged 0 run tree(s)" in recent.stdout

    everything = cli("purge", "--older-than", "0s", url=database_url, cwd=tmp_path)
    assert everything.returncode == 0, everything.stderr
    assert "purged 3 run tree(s)" in everything.stdout and "6 run(s)" in everything.stdout
    for h in parents:
        assert await gone(p, h.id) and await gone(p, children[h.id])
        assert await p.store.list_steps(h.id) == []
    # The waiting run and the tree with a waiting child are intact, and go on.
    assert not await gone(p, waiting.id)
    assert not await gone(p, spawner.id) and not await gone(p, spawned.id)
    await p.publish("ret.go", {"ok": 1})
    await p.publish("ret.spawned", {"ok": 2})
    assert await p.wait_for_result(waiting.id) == {"ok": 1}
    assert await p.wait_for_result(spawned.id) == {"ok": 2}

    # Now the spawner's tree is all finished, it goes with its child.
    last = cli("purge", "--older-than", "0s", "--json", url=database_url, cwd=tmp_path)
    assert json.loads(last.stdout)["trees"] == 2  # the spawner's tree and the waiter
    assert await gone(p, spawner.id) and await gone(p, spawned.id)


async def test_a_purge_while_a_worker_runs_loses_none_of_its_work(polos: Polos) -> None:
    p = polos
    RAN.clear()
    purged: list[int] = []
    submitted: list[str] = []
    producing = True

    async def produce() -> None:
        nonlocal producing
        for round_ in range(6):
            handles = [await p.invoke("ret_steps", round_ * 100 + i) for i in range(15)]
            submitted.extend(h.id for h in handles)
            await asyncio.sleep(0.05)
        producing = False

    async def purge_all_the_time() -> None:
        while producing or await active():
            done = await purge(p.store, time.time(), batch=5)
            purged.append(done.trees)
            await asyncio.sleep(0.01)

    async def active() -> bool:
        for status in ("queued", "running", "waiting"):
            if await p.store.list_executions(status=status, workflow_id="ret_steps", limit=1):
                return True
        return False

    await asyncio.wait_for(asyncio.gather(produce(), purge_all_the_time()), 60)
    await purge(p.store, time.time())
    # Every run finished (then went) and ran each of its steps exactly once.
    assert len(submitted) == 90
    assert sum(purged) > 0
    assert await p.store.list_executions(workflow_id="ret_steps") == []
    assert set(RAN.values()) == {1}
    assert len(RAN) == 2 * len(submitted)


async def test_workers_sweep_by_the_default_and_each_workflows_own_retention(
    database_url: str,
) -> None:
    served = [ret_default, ret_forever, ret_hour, ret_second]
    async with Polos(
        database_url=database_url,
        workflows=served,
        retention="1s",
        retention_sweep_interval=0.2,
        poll_interval=0.05,
    ) as p:
        handles = {wf.id: await p.invoke(wf.id) for wf in served}
        for h in handles.values():
            await p.wait_for_result(h.id)
        assert await p.store.list_retention() == {
            "ret_forever": math.inf,
            "ret_hour": 3600.0,
            "ret_second": 0.5,
        }

        async def swept() -> bool:
            return await gone(p, handles["ret_default"].id) and await gone(
                p, handles["ret_second"].id
            )

        await until(swept)
        assert not await gone(p, handles["ret_forever"].id)
        assert not await gone(p, handles["ret_hour"].id)


async def test_one_worker_sweeps_at_a_time(database_url: str) -> None:
    served = [ret_default]
    options: dict[str, Any] = {"retention": "50ms", "retention_sweep_interval": 60}
    async with (
        Polos(database_url=database_url, workflows=served, **options) as first,
        Polos(database_url=database_url, workflows=served, **options) as second,
    ):
        assert first.worker is not None and second.worker is not None
        handle = await first.invoke("ret_default")
        await first.wait_for_result(handle.id)
        await asyncio.sleep(0.1)
        swept = await first.worker.sweep_retention()
        assert swept is not None and swept.trees == 1
        assert await second.worker.sweep_retention() is None  # the first holds the lease
        assert await gone(first, handle.id)
        await first.worker.stop()  # gives the lease up
        assert await second.worker.sweep_retention() is not None


def test_bad_retention_settings_are_refused_with_what_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nothing(ctx: WorkflowContext) -> None:
        return None

    with pytest.raises(WorkflowDefinitionError, match=r"retention of workflow 'ret_bad'.*'30s'"):
        workflow(id="ret_bad", retention="a month")(nothing)
    with pytest.raises(WorkflowDefinitionError, match="must be positive"):
        workflow(id="ret_bad", retention=0)(nothing)
    url = f"sqlite:///{tmp_path}/x.db"
    with pytest.raises(ValueError, match=r"retention.*forever"):
        Worker(database_url=url, retention="-3d")
    monkeypatch.setenv("POLOS_RETENTION", "bogus")
    with pytest.raises(ValueError, match=r"POLOS_RETENTION.*'30s'"):
        Worker(database_url=url)
    monkeypatch.setenv("POLOS_RETENTION", "30d")
    assert Worker(database_url=url).retention == 30 * 86400

    bad = cli("purge", "--older-than", "bogus", url=url, cwd=tmp_path)
    assert bad.returncode == 2
    assert "--older-than" in bad.stderr and "cannot read duration 'bogus'" in bad.stderr
    bad_status = cli("purge", "--older-than", "1d", "--status", "waiting", url=url, cwd=tmp_path)
    assert bad_status.returncode == 2
    assert "--status" in bad_status.stderr and "only finished runs" in bad_status.stderr
    missing = cli("purge", url=url, cwd=tmp_path)
    assert missing.returncode == 2 and "--older-than" in missing.stderr
