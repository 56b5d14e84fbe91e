"""Polos's example 22 (approval page) runs unchanged against ``polos server``.

As its README says: the server runs (here ``polos server`` on the same
database, started as its own process), ``python main.py`` starts a deployment
that suspends with a ``_form`` and prints the approval URL; a person opens it
in a browser, fills the form and submits; the run completes with what was
submitted. The person is headless Chromium with JavaScript off.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import httpx
import pytest

from browser import chromium
from polos_examples import copy_example, example_env

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _healthy(url: str, server: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if server.returncode is not None:
                raise AssertionError(f"polos server exited:\n{log.read_text()}")
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"polos server never answered:\n{log.read_text()}")


async def test_22_approval_page(examples: Path, tmp_path: Path, database_url: str) -> None:
    folder = copy_example(examples, "22-approval-page", tmp_path)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "polos.cli",
            "server",
            "--database-url",
            database_url,
            "--port",
            str(port),
            stdout=out,
            stderr=out,
        )
    env = example_env(database_url, {"POLOS_APPROVAL_BASE_URL": url})
    main: asyncio.subprocess.Process | None = None
    seen: list[str] = []
    try:
        await _healthy(url, server, log)
        main = await asyncio.create_subprocess_exec(
            sys.executable,
            "main.py",
            cwd=folder,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert main.stdout is not None
        approval_url = None
        while True:
            try:
                line = (await asyncio.wait_for(main.stdout.readline(), 60)).decode()
            except TimeoutError:
                raise AssertionError(
                    "main.py printed nothing for 60 s; so far:\n" + "".join(seen)
                ) from None
            assert line, "main.py ended early:\n" + "".join(seen)
            seen.append(line)
            if line.strip().startswith(f"{url}/approve/"):
                approval_url = line.strip()
            if "Waiting for response..." in line:
                break
        assert approval_url is not None, "".join(seen)

        async with chromium() as browser:
            context = await browser.new_context(java_script_enabled=False)
            page = await context.new_page()
            await page.goto(approval_url)
            assert await page.title() == "Deploy api-gateway v2.4.0"
            text = await page.inner_text("main")
            assert "Approve deployment to production. All pre-deploy checks passed." in text
            assert "api-gateway" in text and "passing" in text  # the context, read-only
            await page.check("#field-approved")
            await page.fill("#field-approver", "Grace Hopper")
            await page.fill("#field-reason", "Release train 42")
            await page.click("button[type=submit]")
            await page.wait_for_url("**?submitted=1")
            await context.close()

        rest, _ = await asyncio.wait_for(main.communicate(), 60)
        output = "".join(seen) + rest.decode()
        assert main.returncode == 0, output
        lines = [line.strip() for line in output.splitlines()]
        assert "Workflow completed!" in lines, output
        assert "Status:      deployed" in lines
        assert "Approved by: Grace Hopper" in lines
        assert "Reason:      Release train 42" in lines
        assert "Environment: production" in lines
        assert "Traceback" not in output
    finally:
        if main is not None and main.returncode is None:
            main.kill()
            await main.wait()
        if server.returncode is None:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)
    assert server.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
