"""Polos's TypeScript SDK (``@polos/sdk``) against ``polos server``, as real Node processes.

``@polos/sdk`` is not on the npm registry this project's machines reach, so the
tests use a package built from Polos's source elsewhere (docs/typescript.md
says how) and named by ``POLOS_TS_SDK_TGZ``; without it they are skipped with
that reason. Where the registry has it, ``POLOS_TS_SDK_VERSION=0.2.3`` installs
the published package instead. Polos's ``typescript-examples`` are read from
``POLOS_TS_EXAMPLES_DIR`` at test time and copied into a temporary folder,
never into this repository.

- ``install_sdk``, behind the session fixture ``ts_node_modules`` (made available
  to every test module through tests/conftest.py): ``npm install`` of the packed
  SDK with the examples' dependencies (dotenv, zod, tsx, @ai-sdk/openai) into a
  temporary folder; its ``node_modules`` is linked into every project a test makes.
- ``ts_project``: a folder with that ``node_modules`` and ``"type": "module"``.
- ``TsProcess``: ``node --import tsx <script>`` (one process, so SIGKILL
  really kills the worker: the ``tsx`` command would leave its child running),
  its output in a file, with a driver that answers interactive prompts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DEFAULT_TGZ = "/work/tsbuild/polos-sdk-0.2.3.tgz"
DEFAULT_EXAMPLES = "/work/ref/repo/typescript-examples"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# What Polos's typescript-examples import besides the SDK (their package.json files).
EXAMPLE_DEPENDENCIES = {
    "dotenv": "^16.4.0",
    "zod": "^4.0.0",
    "@ai-sdk/openai": "^3.0.0",
    "@ai-sdk/anthropic": "^3.0.0",
    "tsx": "^4.0.0",
}


def sdk_tgz() -> Path:
    return Path(os.environ.get("POLOS_TS_SDK_TGZ", DEFAULT_TGZ))


def examples_dir() -> Path:
    folder = Path(os.environ.get("POLOS_TS_EXAMPLES_DIR", DEFAULT_EXAMPLES))
    if not (folder / "08-workflow-basics").is_dir():
        pytest.skip(
            f"Polos's typescript-examples are not at {folder}: set POLOS_TS_EXAMPLES_DIR to the "
            "typescript-examples folder of a polos-dev/polos checkout"
        )
    return folder


def _unavailable(reason: str) -> None:
    if IN_CI and (os.environ.get("POLOS_TS_SDK_TGZ") or os.environ.get("POLOS_TS_SDK_VERSION")):
        pytest.fail(reason)  # asked for explicitly: a broken install is a failure
    pytest.skip(reason)


def _sdk_dependency() -> tuple[str, str]:
    """What to install as @polos/sdk, and how to name it in a message.

    ``POLOS_TS_SDK_VERSION`` (``0.2.3``, ``latest``) installs the published
    package from the npm registry, where the registry has it; otherwise the
    package built from source, at ``POLOS_TS_SDK_TGZ``.
    """
    version = os.environ.get("POLOS_TS_SDK_VERSION")
    if version:
        return version, f"@polos/sdk@{version} from the npm registry"
    tgz = sdk_tgz()
    if not tgz.is_file():
        pytest.skip(
            f"no packed @polos/sdk at {tgz}: the package is not on the npm registry this "
            "machine reaches; build it from Polos's sdk/typescript (npm install, npm run build, "
            "npm pack) and set POLOS_TS_SDK_TGZ to the .tgz, or set POLOS_TS_SDK_VERSION to "
            "install the published one (docs/typescript.md)"
        )
    return f"file:{tgz}", str(tgz)


def install_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``npm install`` the SDK and the examples' dependencies; the node_modules."""
    spec, named = _sdk_dependency()
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the @polos/sdk tests (Node 18 or later)")
    root = tmp_path_factory.mktemp("polos-ts-sdk")
    package = {
        "name": "polos-ts-sdk-tests",
        "private": True,
        "type": "module",
        "dependencies": {"@polos/sdk": spec, **EXAMPLE_DEPENDENCIES},
    }
    (root / "package.json").write_text(json.dumps(package, indent=2))
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        _unavailable(f"npm install of {named} failed: {(done.stdout + done.stderr)[-1500:]}")
    return root / "node_modules"


@pytest.fixture(scope="session")
def ts_node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SDK's node_modules, installed once per session (see ``install_sdk``)."""
    return install_sdk(tmp_path_factory)


def ts_project(folder: Path, node_modules: Path, files: Iterable[Path] = ()) -> Path:
    """``folder`` made a Node project on the shared node_modules, with ``files`` copied in."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "node_modules").symlink_to(node_modules, target_is_directory=True)
    (folder / "package.json").write_text('{"private": true, "type": "module"}\n')
    for file in files:
        shutil.copy2(file, folder / file.name)
    return folder


def copy_ts_example(name: str, node_modules: Path, tmp_path: Path) -> Path:
    """Polos's example ``name`` (its .ts files and tsconfig) in a project of its own."""
    source = examples_dir() / name
    files = [p for p in source.iterdir() if p.suffix == ".ts" or p.name == "tsconfig.json"]
    return ts_project(tmp_path / name, node_modules, files)


def node_env(
    server_url: str, worker_port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """What a Polos TypeScript user sets, and nothing of the test process's POLOS_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLOS_", "OPENAI_"))}
    env.update(
        {
            "POLOS_API_URL": server_url,
            "POLOS_PROJECT_ID": "default",
            "POLOS_WORKER_PORT": str(worker_port),
            "NO_COLOR": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class TsProcess:
    """``node --import tsx script`` in ``folder``; stdout and stderr kept in memory."""

    folder: Path
    script: str
    env: dict[str, str]
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] = field(init=False)
    _out: bytearray = field(default_factory=bytearray, init=False)
    _seen: threading.Condition = field(default_factory=threading.Condition, init=False)
    _reader: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", "--import", "tsx", self.script, *self.args],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self._seen:
                self._out.extend(chunk)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    @property
    def output(self) -> str:
        with self._seen:
            return self._out.decode(errors="replace")

    def log(self) -> str:
        """The SDK's own log file (the examples pass ``logFile: 'polos.log'``)."""
        path = self.folder / "polos.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def wait_for(self, text: str, *, after: int = 0, timeout: float = 120) -> int:
        """Block until ``text`` appears in the output past ``after``; where it ends."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                found = self._out.find(text.encode(), after)
                if found >= 0:
                    return found + len(text.encode())
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{self.script} never printed {text!r} (exit {self.proc.poll()}):\n"
                        f"{self._out.decode(errors='replace')[-6000:]}\n--- polos.log ---\n"
                        f"{self.log()}"
                    )
                self._seen.wait(min(left, 0.5))

    def answer(self, prompts: Iterable[tuple[str, str]], *, timeout: float = 120) -> None:
        """For each (prompt, reply): wait for the prompt, then type the reply and Enter."""
        position = 0
        assert self.proc.stdin is not None
        for prompt, reply in prompts:
            position = self.wait_for(prompt, after=position, timeout=timeout)
            self.proc.stdin.write(reply.encode() + b"\n")
            self.proc.stdin.flush()

    def finish(self, timeout: float = 300) -> str:
        """Wait for the process to exit (killing it after ``timeout``); its output."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.script} did not finish within {timeout}s:\n{self.output[-6000:]}\n"
                f"--- polos.log ---\n{self.log()}"
            ) from None
        self._reader.join(10)
        return self.output

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to report anything."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._reader.join(10)
