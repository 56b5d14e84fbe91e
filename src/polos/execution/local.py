"""``LocalEnvironment``: commands run as subprocesses of the worker, files on its disk.

There is no isolation here beyond the path checks: every command runs with
the worker's rights. That is why ``sandbox_tools(env="local")`` asks a person
before each command unless told otherwise.

Each command runs in a process group of its own, so a timeout (or the tool
being cancelled) kills the command and everything it started, not only the
shell. Output is read as it comes and kept within a bounded buffer, so a
command printing gigabytes costs the worker no more than the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time
from typing import Literal

from polos.execution.environment import ExecutionEnvironment
from polos.execution.output import is_binary, parse_grep_output, strip_ansi, truncate_output
from polos.execution.security import is_within_restriction
from polos.execution.types import (
    DEFAULT_EXEC_TIMEOUT_SECONDS,
    DEFAULT_MAX_OUTPUT_CHARS,
    EnvironmentInfo,
    ExecOptions,
    ExecResult,
    GlobOptions,
    GrepMatch,
    GrepOptions,
    LocalEnvironmentConfig,
)

#: After the shell exits, how long to keep reading output that a background
#: child (``server &``) may still hold open before returning without it.
DRAIN_SECONDS = 2.0
#: Exit code reported for a command killed at its timeout (128 + SIGKILL).
TIMEOUT_EXIT_CODE = 137
#: Environment variables naming the sandbox and worker a command belongs to,
#: so that processes a crashed worker left behind can be found and killed.
LABEL_ENV_PREFIX = "POLOS_SANDBOX_"
MAX_GLOB_RESULTS = 1000
DEFAULT_GREP_RESULTS = 100


class _Capture:
    """Bytes of one output stream: the head and the tail, at most ``2 * keep`` bytes."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.keep:
                del self.tail[: len(self.tail) - self.keep]

    @property
    def overflowed(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.tail:
            return head
        tail = self.tail.decode("utf-8", errors="replace")
        if self.overflowed:
            skipped = self.total - len(self.head) - len(self.tail)
            return f"{head}\n\n--- truncated {skipped} bytes ---\n\n{tail}"
        return head + tail


async def _pump(stream: asyncio.StreamReader | None, into: _Capture) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        into.add(chunk)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_shell(
    command: str,
    *,
    cwd: str,
    env: dict[str, str] | None,
    timeout: float,
    stdin: str | None,
    keep_bytes: int,
) -> tuple[int, str, str, bool, bool]:
    """Run ``sh -c command``: ``(exit_code, stdout, stderr, timed_out, overflowed)``."""
    proc = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        command,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: a kill reaches its children
    )
    out, err = _Capture(keep_bytes), _Capture(keep_bytes)
    readers = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err))
    timed_out = False
    try:
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin.encode())
                await proc.stdin.drain()
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            await proc.wait()
        try:
            await asyncio.wait_for(asyncio.shield(readers), DRAIN_SECONDS)
        except TimeoutError:
            readers.cancel()  # a background child keeps the pipes open: stop reading
    except BaseException:
        # Cancelled (the worker stops) or failed: leave nothing running behind.
        _kill_group(proc.pid)
        readers.cancel()
        raise
    if timed_out:
        _kill_group(proc.pid)
    code = TIMEOUT_EXIT_CODE if timed_out else (proc.returncode or 0)
    stderr = err.text()
    if timed_out:
        stderr += f"\n[Process killed: timeout of {timeout:g}s exceeded]"
    return code, out.text(), stderr, timed_out, out.overflowed or err.overflowed


class LocalEnvironment(ExecutionEnvironment):
    """Runs commands with ``sh -c`` in a working folder on this machine.

    With ``path_restriction`` set (a managed sandbox sets it to its workspace),
    writes outside that folder are refused and reads may not follow a
    symbolic link out of it.
    """

    def __init__(
        self,
        config: LocalEnvironmentConfig | None = None,
        max_output_chars: int | None = None,
    ) -> None:
        self._config = config or LocalEnvironmentConfig()
        self._cwd = os.path.abspath(os.path.expanduser(self._config.cwd or os.getcwd()))
        restriction = self._config.path_restriction
        self._restriction: str | None = (
            os.path.realpath(os.path.expanduser(restriction)) if restriction else None
        )
        self._max_output_chars = max_output_chars or DEFAULT_MAX_OUTPUT_CHARS
        self._labels: dict[str, str] = {}

    @property
    def type(self) -> Literal["local"]:
        return "local"

    @property
    def path_restriction(self) -> str | None:
        """The folder writes are confined to, or None when unrestricted."""
        return self._restriction

    async def initialize(self, labels: dict[str, str] | None = None) -> None:
        if not os.path.isdir(self._cwd):
            what = "is not a directory" if os.path.exists(self._cwd) else "does not exist"
            raise RuntimeError(
                f"working directory {self._cwd} {what}; create it or set "
                "LocalEnvironmentConfig(cwd=...) to an existing folder"
            )
        # Labels travel in each command's environment (POLOS_SANDBOX_<NAME>), so
        # processes outliving a crashed worker can be told apart and reclaimed.
        self._labels = {
            LABEL_ENV_PREFIX + key.removeprefix("polos.").replace("-", "_").upper(): value
            for key, value in (labels or {}).items()
        }

    async def exec(self, command: str, opts: ExecOptions | None = None) -> ExecResult:
        opts = opts or ExecOptions()
        cwd = self._resolve(opts.cwd) if opts.cwd else self._cwd
        if not os.path.isdir(cwd):
            raise ValueError(f"cwd {opts.cwd!r} is not a directory (resolved to {cwd})")
        timeout = opts.timeout or DEFAULT_EXEC_TIMEOUT_SECONDS
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        started = time.monotonic()
        env = {**self._labels, **(opts.env or {})}
        # Keep a few bytes per character of budget: enough for any UTF-8 text.
        code, stdout, stderr, _timed_out, overflowed = await run_shell(
            command,
            cwd=cwd,
            env=env or None,
            timeout=timeout,
            stdin=opts.stdin,
            keep_bytes=4 * self._max_output_chars + 4096,
        )
        stdout, cut_out = truncate_output(strip_ansi(stdout), self._max_output_chars)
        stderr, cut_err = truncate_output(strip_ansi(stderr), self._max_output_chars)
        return ExecResult(
            exit_code=code,
            stdout=stdout,
            stderr=stderr,
            duration_ms=int((time.monotonic() - started) * 1000),
            truncated=cut_out or cut_err or overflowed,
        )

    async def read_file(self, path: str) -> str:
        resolved = self._resolve(path)
        if self._restriction:
            # A link inside the workspace must not lead a read out of it (a path
            # outside it was approved by a person, or is not confined at all).
            lexical = os.path.abspath(os.path.join(os.path.realpath(self._cwd), path))
            real = os.path.realpath(resolved)
            inside = is_within_restriction(lexical, self._restriction)
            if inside and not is_within_restriction(real, self._restriction):
                raise ValueError(
                    f"{path!r} is a symbolic link to {real}, outside the workspace "
                    f"{self._restriction}"
                )
        try:
            with open(resolved, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file: {path!r} (looked at {resolved})") from None
        except IsADirectoryError:
            raise IsADirectoryError(
                f"{path!r} is a directory; use glob to list its files"
            ) from None
        if is_binary(data):
            raise ValueError(
                f"{path!r} is a binary file ({len(data)} bytes) and cannot be read as text; "
                "inspect it with exec (e.g. `file`, `xxd | head`)"
            )
        return data.decode("utf-8", errors="replace")

    async def write_file(self, path: str, content: str) -> None:
        resolved = self._resolve(path)
        self.assert_writable(path)
        os.makedirs(os.path.dirname(resolved), exist_ok=True)
        with open(resolved, "w", encoding="utf-8") as f:
            f.write(content)

    def assert_writable(self, path: str) -> None:
        """Raise ``ValueError`` if a write to ``path`` would leave the workspace."""
        if not self._restriction:
            return
        resolved = self._resolve(path)
        # realpath of the nearest existing parent: a symlinked folder counts as where it points.
        real = os.path.join(os.path.realpath(os.path.dirname(resolved)), os.path.basename(resolved))
        if os.path.islink(resolved):
            real = os.path.realpath(resolved)
        if not is_within_restriction(real, self._restriction):
            raise ValueError(
                f"path {path!r} resolves to {real}, outside the workspace "
                f"{self._restriction}; write inside the workspace instead"
            )

    async def file_exists(self, path: str) -> bool:
        return os.path.exists(self._resolve(path))

    async def glob(self, pattern: str, opts: GlobOptions | None = None) -> list[str]:
        opts = opts or GlobOptions()
        root = self._resolve(opts.cwd) if opts.cwd else self._cwd
        # find(1) matches -name against the base name and -path against the whole path.
        test = "-path" if "/" in pattern else "-name"
        target = f"*/{pattern.lstrip('./')}" if test == "-path" else pattern
        target = target.replace("**/", "")  # find's * already crosses folders in -path
        command = f"find {shlex.quote(root)} -type f {test} {shlex.quote(target)}"
        for ignored in opts.ignore or []:
            command += f" ! -path {shlex.quote(ignored)}"
        command += f" 2>/dev/null | sort | head -n {MAX_GLOB_RESULTS}"
        result = await self.exec(command)
        return [line for line in result.stdout.splitlines() if line]

    async def grep(self, pattern: str, opts: GrepOptions | None = None) -> list[GrepMatch]:
        opts = opts or GrepOptions()
        root = self._resolve(opts.cwd) if opts.cwd else self._cwd
        limit = opts.max_results or DEFAULT_GREP_RESULTS
        parts = ["grep", "-rnI"]
        if opts.context_lines:
            parts += ["-C", str(opts.context_lines)]
        for include in opts.include or []:
            parts.append(f"--include={include}")
        parts += ["-e", pattern, "--", "."]
        command = " ".join(shlex.quote(p) for p in parts) + " 2>/dev/null"
        result = await self.exec(command, ExecOptions(cwd=root))
        matches = parse_grep_output(result.stdout)
        for match in matches:
            match.path = match.path.removeprefix("./")
        return matches[:limit]

    async def destroy(self) -> None:
        """Nothing to tear down: the folder belongs to whoever chose it."""

    def get_cwd(self) -> str:
        return self._cwd

    def get_info(self) -> EnvironmentInfo:
        uname = os.uname()
        return EnvironmentInfo(type="local", cwd=self._cwd, os=f"{uname.sysname} {uname.release}")

    def _resolve(self, path: str) -> str:
        return os.path.abspath(os.path.join(self._cwd, os.path.expanduser(path)))
