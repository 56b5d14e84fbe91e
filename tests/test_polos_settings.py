"""Polos's constructor arguments, each with its meaning here: project_id, api_url,
deployment_id, log_file, channels."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import drop_schema
from polos import (
    Channel,
    Polos,
    PolosClient,
    SuspendNotification,
    Worker,
    WorkflowContext,
    workflow,
)
from polos.errors import ConfigurationError
from polos.runtime.remote import RemotePolosClient
from polos.runtime.settings import project_database_url


@workflow(id="settings_echo")
async def settings_echo(ctx: WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {"deployment_id": ctx.deployment_id, "payload": payload}


@workflow(id="settings_approval")
async def settings_approval(ctx: WorkflowContext, payload: dict[str, Any]) -> Any:
    form = {
        "title": "Approve the refund",
        "description": "A customer asks for money back",
        "fields": [{"key": "approved", "type": "boolean", "label": "Approve?"}],
        "context": {"amount": payload["amount"]},
    }
    notify = {"recording": {"thread": "t-1"}, "slack": {"channel": "#refunds"}}
    decision = await ctx.step.suspend(
        "refund_ok", data={"_form": form, "_notify": notify}, timeout=600
    )
    return decision.get("data", {})


def test_api_url_makes_a_remote_client_and_a_worker_needs_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POLOS_DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="database_url"):
        Polos(api_url="http://polos.internal:8080")
    # Polos's local default spelled out means "local development": embedded here
    assert PolosClient(api_url="http://localhost:8080").database_url.startswith("sqlite:")
    remote = PolosClient("https://api.polos.dev/", "key")
    assert isinstance(remote, RemotePolosClient)
    assert (remote.api_url, remote.api_key) == ("https://api.polos.dev", "key")
    assert isinstance(PolosClient("http://127.0.0.1:8080"), RemotePolosClient)
    with pytest.raises(ConfigurationError, match="not a server address"):
        PolosClient("ftp://x")
    monkeypatch.setenv("POLOS_API_URL", "http://orchestrator:8080")
    assert PolosClient().api_url == "http://orchestrator:8080"
    # a database URL wins: what a worker (and a client beside it) needs
    monkeypatch.setenv("POLOS_DATABASE_URL", "sqlite:///x.db")
    assert not isinstance(PolosClient(), RemotePolosClient)


def test_project_ids_name_separate_files_and_schemas() -> None:
    assert project_database_url("sqlite:///data/polos.db", "acme") == "sqlite:///data/polos.acme.db"
    assert (
        project_database_url("postgresql://u@h/db?schema=app", "Acme-1")
        == "postgresql://u@h/db?schema=app_acme_1"
    )
    assert project_database_url("postgresql://u@h/db", "acme").endswith("schema=project_acme")
    with pytest.raises(ConfigurationError, match="project_id"):
        project_database_url("sqlite:///polos.db", "no spaces please")


async def test_projects_sharing_a_database_do_not_see_each_other(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLOS_DATABASE_URL", database_url)
    made: list[str] = []
    try:
        async with (
            Polos("alpha", workflows=[settings_echo], poll_interval=0.02) as alpha,
            Polos(project_id="beta", workflows=[settings_echo], poll_interval=0.02) as beta,
        ):
            made = [alpha.database_url, beta.database_url]
            assert len(set(made)) == 2
            a = await settings_echo.run(alpha, {"who": "alpha"}, timeout=20)
            b = await settings_echo.run(beta, {"who": "beta"}, timeout=20)
            assert a["payload"] == {"who": "alpha"} and b["payload"] == {"who": "beta"}
            [only_a] = await alpha.list_executions(workflow_id="settings_echo")
            [only_b] = await beta.list_executions(workflow_id="settings_echo")
            assert only_a.id != only_b.id
    finally:
        for url in made:
            if "schema=" in url:
                await asyncio.to_thread(drop_schema, url.rsplit("schema=", 1)[1])


async def test_deployment_id_reaches_the_workflow_and_worker(database_url: str) -> None:
    async with Polos(
        deployment_id="blue", database_url=database_url, workflows=[settings_echo]
    ) as polos:
        assert polos.worker is not None and polos.worker.deployment_id == "blue"
        assert (polos.deployment_id, polos.api_url, polos.project_id) == (
            "blue",
            "http://localhost:8080",
            None,
        )
        handle = await settings_echo.invoke(polos, {})
        assert (await handle.result(timeout=20))["deployment_id"] == "blue"
        assert (await polos.get_execution(handle.id)).deployment_id == "blue"  # on the run
        [me] = [
            w for w in await polos.store.list_workers() if w.worker_id == polos.worker.worker_id
        ]
        assert me.deployment_id == "blue"  # and on the worker
    # Polos's Worker takes (client, deployment_id, agents, tools, workflows, ...) positionally
    async with PolosClient(database_url=database_url) as client:
        worker = Worker(client, "green", None, None, [settings_echo], 4)
        assert (worker.deployment_id, worker.max_concurrent_workflows) == ("green", 4)
        # Told none, as in Polos: a client has None ("latest"), Polos and workers "default".
        assert client.deployment_id is None
        assert Worker(client).deployment_id == "default"
    async with Polos(database_url=database_url, workflows=[settings_echo]) as untold:
        assert untold.deployment_id == "default" and untold.client.deployment_id is None


async def test_log_file_receives_the_logs(tmp_path: Path, sqlite_url: str) -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    log_file = tmp_path / "polos.log"
    try:
        async with Polos(
            log_file=str(log_file), database_url=sqlite_url, workflows=[settings_echo]
        ) as polos:
            await settings_echo.run(polos, {}, timeout=20)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    text = log_file.read_text()
    assert "polos.worker" in text and "started" in text


class RecordingChannel(Channel):
    def __init__(self) -> None:
        self.received: list[SuspendNotification] = []
        self.arrived = asyncio.Event()

    @property
    def id(self) -> str:
        return "recording"

    async def notify(self, notification: SuspendNotification) -> dict[str, Any] | None:
        self.received.append(notification)
        self.arrived.set()
        return None


class BrokenChannel(Channel):
    @property
    def id(self) -> str:
        return "broken"

    async def notify(self, notification: SuspendNotification) -> dict[str, Any] | None:
        raise RuntimeError("the chat service is down")


async def test_channels_are_told_of_a_suspend_and_a_broken_one_harms_nothing(
    database_url: str,
) -> None:
    channel = RecordingChannel()
    async with Polos(
        channels=[BrokenChannel(), channel],
        database_url=database_url,
        workflows=[settings_approval],
    ) as polos:
        handle = await settings_approval.invoke(polos, {"amount": 42})
        await asyncio.wait_for(channel.arrived.wait(), 20)
        [note] = channel.received
        assert (note.workflow_id, note.execution_id, note.step_key) == (
            "settings_approval",
            handle.id,
            "refund_ok",
        )
        assert note.title == "Approve the refund"
        assert note.description == "A customer asks for money back"
        assert note.context == {"amount": 42}
        assert note.form_fields == [{"key": "approved", "type": "boolean", "label": "Approve?"}]
        assert note.approval_url.endswith(f"/approve/{handle.id}/refund_ok")
        assert note.expires_at is not None
        # As in Polos, a channel is given only its own part of _notify.
        assert note.channel_overrides == {"thread": "t-1"}
        await polos.resume(handle.root_workflow_id, handle.id, "refund_ok", {"approved": True})
        assert await handle.result(timeout=20) == {"approved": True}
    assert len(channel.received) == 1  # told once, not again when the run replays


def test_max_concurrency_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLOS_MAX_CONCURRENT_WORKFLOWS", "7")
    assert Worker(database_url="sqlite:///unused.db").max_concurrent_workflows == 7
    monkeypatch.setenv("POLOS_MAX_CONCURRENT_WORKFLOWS", "many")
    with pytest.raises(ValueError, match="POLOS_MAX_CONCURRENT_WORKFLOWS"):
        Worker(database_url="sqlite:///unused.db")
    assert not os.path.exists("unused.db")
