"""Run Polos's own ``python-examples`` unchanged against this package.

The examples are not part of this repository: they are read at test time from
a copy of the polos-dev/polos repository (``POLOS_EXAMPLES_DIR`` pointing at
its ``python-examples`` folder, or the git mirror that the project's tooling
fetches to ``/work/.mirror/polos-dev+polos/repo``). Each example is copied to a
temporary folder and started as its README says (``python main.py``), with
stdin answering its prompts, ``POLOS_DATABASE_URL`` choosing the database and
the ``OPENAI_*`` variables pointing the real ``openai`` SDK at a local fake
model server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

MIRROR = Path(os.environ.get("POLOS_MIRROR", "/work/.mirror/polos-dev+polos/repo"))
_extracted: dict[str, Path | None] = {}


def examples_root(scratch: Path) -> Path | None:
    """The ``python-examples`` folder, extracted once per test session; None if absent."""
    if "root" not in _extracted:
        _extracted["root"] = _find(scratch)
    return _extracted["root"]


def _find(scratch: Path) -> Path | None:
    configured = os.environ.get("POLOS_EXAMPLES_DIR")
    if configured:
        return Path(configured)
    if not MIRROR.exists():
        return None
    scratch.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", f"--git-dir={MIRROR}", "archive", "HEAD", "python-examples"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive.stdout, check=True)
    return scratch / "python-examples"


def require_examples(scratch: Path) -> Path:
    root = examples_root(scratch)
    if root is None or not root.is_dir():
        pytest.skip(
            "Polos's python-examples are not here: set POLOS_EXAMPLES_DIR to a copy of "
            "polos-dev/polos/python-examples (or fetch the repository's mirror)"
        )
    return root


@dataclass
class ExampleRun:
    stdout: str
    stderr: str
    returncode: int
    folder: Path

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.stdout.splitlines()]

    def assert_ok(self) -> None:
        assert self.returncode == 0, f"exit {self.returncode}\n{self.stdout}\n{self.stderr}"
        assert "Traceback" not in self.stdout + self.stderr, f"{self.stdout}\n{self.stderr}"

    def assert_lines(self, *expected: str) -> None:
        """Each of ``expected`` is a whole line the example printed (trailing spaces aside)."""
        lines = self.lines()
        missing = [line for line in expected if line not in lines]
        assert not missing, f"missing lines {missing} in:\n{self.stdout}"


def example_env(database_url: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment an example runs in: our database, a fake model, nothing of Polos's server."""
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("POLOS_API_URL", "POLOS_PROJECT_ID")
    }
    return {
        **inherited,
        "POLOS_DATABASE_URL": database_url,
        "OPENAI_API_KEY": "sk-test",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }


def copy_example(root: Path, name: str, workdir: Path) -> Path:
    folder = workdir / name
    shutil.copytree(root / name, folder)
    return folder


def run_example(
    root: Path,
    name: str,
    workdir: Path,
    *,
    database_url: str,
    script: str = "main.py",
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> ExampleRun:
    """Copy example ``name`` into ``workdir`` and run ``script`` there, unchanged; it
    must exit 0 without a traceback."""
    folder = copy_example(root, name, workdir)
    try:
        done = subprocess.run(
            [sys.executable, script],
            cwd=folder,
            env=example_env(database_url, env),
            input=stdin,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as stuck:
        # What the program had printed is the only clue to where it stuck.
        raise AssertionError(
            f"{name}/{script} did not finish within {timeout:.0f}s.\n"
            f"stdout:\n{_text(stuck.stdout)[-3000:]}\nstderr:\n{_text(stuck.stderr)[-3000:]}"
        ) from None
    run = ExampleRun(done.stdout, done.stderr, done.returncode, folder)
    run.assert_ok()
    return run


def _text(output: str | bytes | None) -> str:
    if output is None:
        return ""
    return output.decode(errors="replace") if isinstance(output, bytes) else output
