"""API keys over real HTTP on SQLite and PostgreSQL: created and revoked with the CLI,
sent as ``Authorization: Bearer``, required once any exists (loopback included), a 401
with a clear message otherwise, scoped to a project; a server on a non-loopback address
refuses to start without keys; the remote client sends its key."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

import server_workflows  # noqa: F401  (defines the srv_* workflows the worker serves)
from polos import ConfigurationError, Polos, PolosClient
from polos.runtime.remote import RemoteError
from polos.store import store_from_url
from polos.store.api_keys import new_api_key
from server_kit import serving


async def _polos(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polos.cli",
        *args,
        env={**os.environ, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_keys_from_the_cli_guard_every_request(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        # no key in the database, on loopback: open (a key sent anyway is not checked)
        assert (await s.http.get("/api/v1/executions")).status_code == 200
        anyway = {"Authorization": "Bearer whatever"}
        assert (await s.http.get("/api/v1/executions", headers=anyway)).status_code == 200

        code, out = await _polos("keys", "create", "--name", "ci", "--database-url", database_url)
        assert code == 0, out
        key = out.strip().splitlines()[-1]
        assert key.startswith("polos_")
        key_id = key.split("_")[1]
        stored = await polos.client.store.list_api_keys()
        assert [(k.key_id, k.name, k.project_id) for k in stored] == [(key_id, "ci", "default")]
        assert key not in repr(stored)  # only the hash is kept

        # from now on every request needs the key, loopback included
        missing = await s.http.get("/api/v1/executions")
        assert missing.status_code == 401
        assert missing.json()["error_type"] == "UNAUTHORIZED"
        assert "Authorization: Bearer" in missing.json()["error"]
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await s.http.get("/api/v1/executions", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
        basic = await s.http.get("/api/v1/executions", headers={"Authorization": "Basic eDp5"})
        assert basic.status_code == 401 and "Bearer <API key>" in basic.json()["error"]
        good = {"Authorization": f"Bearer {key}"}
        assert (await s.http.get("/api/v1/executions", headers=good)).status_code == 200
        stream = await s.http.get("/api/v1/events/stream?topic=t")
        assert stream.status_code == 401
        # open: health, the OpenAPI document, approval pages (a link in a browser)
        assert (await s.http.get("/health")).status_code == 200
        assert (await s.http.get("/openapi.json")).status_code == 200
        assert (await s.http.get("/approve/no-run/approve")).status_code == 404

        # the remote client sends its key
        remote = PolosClient(api_url=s.url, api_key=key)
        assert await remote.run("srv_echo", {"n": 1}, timeout=30) == {
            "input": {"n": 1},
            "doubled": 2,
        }
        keyless = PolosClient(api_url=s.url)
        with pytest.raises(RemoteError, match="requires an API key") as refused:
            await keyless.invoke("srv_echo", {})
        assert refused.value.status == 401

        code, out = await _polos("keys", "list", "--database-url", database_url)
        assert code == 0 and key_id in out and "ci" in out and key not in out, out
        code, out = await _polos("keys", "revoke", key_id, "--database-url", database_url)
        assert code == 0, out
        revoked = await s.http.get("/api/v1/executions", headers=good)
        assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]
        with pytest.raises(RemoteError, match="revoked"):
            await remote.get_execution("x")
        code, out = await _polos("keys", "revoke", key_id, "--database-url", database_url)
        assert code == 1 and "no active key" in out
        # a database that had keys never goes back to open
        assert (await s.http.get("/api/v1/executions")).status_code == 401
        await remote.close()
        await keyless.close()


async def test_keys_are_scoped_to_the_project(polos: Polos, database_url: str) -> None:
    other_key, other = new_api_key("other", "theirs", time.time())
    await polos.client.store.create_api_key(other)  # (only copied rows could do this)
    key, row = new_api_key("default", "ours", time.time())
    await polos.client.store.create_api_key(row)
    async with serving(database_url) as s:
        theirs = await s.http.get(
            "/api/v1/executions", headers={"Authorization": f"Bearer {other_key}"}
        )
        assert theirs.status_code == 401 and "another project" in theirs.json()["error"]
        ours = await s.http.get("/api/v1/executions", headers={"Authorization": f"Bearer {key}"})
        assert ours.status_code == 200

    # a project's server reads the project's own database: its keys, its runs
    code, out = await _polos(
        "keys", "create", "--project-id", "acme", "--database-url", database_url
    )
    assert code == 0, out
    acme_key = out.strip().splitlines()[-1]
    async with serving(database_url, project_id="acme") as s:
        for bad in (key, other_key):
            r = await s.http.get("/api/v1/executions", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401
        r = await s.http.get("/api/v1/executions", headers={"Authorization": f"Bearer {acme_key}"})
        assert r.status_code == 200 and r.json()["executions"] == []
    acme = PolosClient(None, None, "acme", database_url=database_url)
    await acme.start()
    try:
        assert [k.project_id for k in await acme.store.list_api_keys()] == ["acme"]
    finally:
        await acme.close()


async def test_a_public_address_needs_keys(database_url: str) -> None:
    with pytest.raises(
        ConfigurationError, match=r"refusing to listen on 0\.0\.0\.0 without API keys"
    ):
        async with serving(database_url, host="0.0.0.0"):
            pass
    store = store_from_url(database_url)
    await store.open()
    try:
        key, row = new_api_key("default", "prod", time.time())
        await store.create_api_key(row)
    finally:
        await store.close()
    async with serving(database_url, host="0.0.0.0") as s:
        assert (await s.http.get("/api/v1/executions")).status_code == 401
        ok = await s.http.get("/api/v1/executions", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200


def test_cli_server_refuses_a_public_address_without_keys(sqlite_url: str) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "polos.cli", "server", "--host", "0.0.0.0", "--port", "0"],
        env={**os.environ, "POLOS_DATABASE_URL": sqlite_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "without API keys" in done.stdout + done.stderr
