"""Polos's example 22 (approval page) runs unchanged against ``polos server``.

As its README says: the server runs (here ``polos server`` on the same
database, started as its own process by the ``polos_server`` fixture),
``python main.py`` starts a deployment that suspends with a ``_form`` and
prints the approval URL; a person opens it in a browser, fills the form and
submits; the run completes with what was submitted. The person is headless
Chromium with JavaScript off (tests/example_agents_kit.py).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from example_agents_kit import submit_approval_page
from polos_examples import copy_example, example_env
from sdk_kit import ServerProcess

pytestmark = pytest.mark.slow


async def test_22_approval_page(
    examples: Path, tmp_path: Path, database_url: str, polos_server: ServerProcess
) -> None:
    folder = copy_example(examples, "22-approval-page", tmp_path)
    url = polos_server.url
    env = example_env(database_url, {"POLOS_APPROVAL_BASE_URL": url})
    main: asyncio.subprocess.Process | None = None
    seen: list[str] = []
    try:
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

        text = await submit_approval_page(approval_url)
        assert "Approve deployment to production. All pre-deploy checks passed." in text
        assert "api-gateway" in text and "passing" in text  # the context, read-only

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
    # the server (the fixture's, stopped here to see how it ends) shut down cleanly
    polos_server.stop()
    log = polos_server.log.read_text()
    assert polos_server.proc.returncode == 0, log
    assert "Traceback" not in log, log
