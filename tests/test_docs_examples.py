"""Every docs example marked ``# example: name`` runs as written, in a fresh directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parent.parent
BLOCK = re.compile(r"```python\n(# example: ([\w-]+)\n.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for code, name in BLOCK.findall(doc.read_text()):
            found.append((f"{doc.stem}:{name}", code))
    return found


EXAMPLES = _examples()


@pytest.mark.parametrize("script", ["crash_demo.py", "agent_demo.py"])
def test_example_programs_run(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for name in ("POLOS_DATABASE_URL", "OPENAI_API_KEY"):
        env.pop(name, None)  # the agent demo runs offline against the fake server
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    assert (
        "Nothing was lost" if script == "crash_demo.py" else "verdict: Verdict(valid=True"
    ) in done.stdout


def test_the_demo_ends_with_where_the_dashboard_shows_its_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("POLOS_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "crash_demo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    command, url = re.search(
        r"See the run in the dashboard: (.+)\n  then open (\S+)", done.stdout
    ).groups()  # type: ignore[union-attr]
    execution_id = url.rsplit("/", 1)[1]
    assert execution_id == (tmp_path / ".polos" / "demo-execution-id").read_text().strip()
    server = subprocess.Popen(
        [*command.split(), "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        page = None
        deadline = time.monotonic() + 30
        while page is None and time.monotonic() < deadline:
            try:
                page = httpx.get(url, timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)
        assert page is not None and page.status_code == 200, "the dashboard did not answer"
        assert "process_order" in page.text and "send_email" in page.text
    finally:
        server.terminate()
        server.wait(10)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_runs(name: str, code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("POLOS_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
