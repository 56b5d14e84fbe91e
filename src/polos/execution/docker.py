"""A sandbox in a Docker container: commands run inside it, files live on the host.

One long-lived container per sandbox (its main process sleeps forever) with the
workspace folder bind-mounted at ``/workspace``. ``exec`` runs a command with
``docker exec ... sh -c``; file reads and writes go straight to the host folder
through the bind mount (no process per file), confined to the workspace even
through symbolic links; glob and grep run ``find``/``grep`` inside the
container, written for POSIX and busybox tools so slim images work.

Every container is labelled (``polos.managed=true`` plus the sandbox manager's
``polos.sandbox-id``, ``polos.worker-id``, ``polos.session-id``). A sandbox that
comes up again under the same sandbox id (a session resumed on a restarted
worker) adopts the running container left behind instead of starting a second
one, and :func:`list_sandbox_containers` / :func:`remove_containers` let a
sweeper reclaim containers whose worker died.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import shlex
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from polos.execution.docker_cli import (
    ContainerGoneError,
    DockerError,
    container_gone,
    daemon_down,
    daemon_error,
    docker_cli,
    image_error,
    image_missing,
    run_cli,
)
from polos.execution.environment import ExecutionEnvironment
from polos.execution.output import is_binary, parse_grep_output, strip_ansi, truncate_output
from polos.execution.types import (
    DEFAULT_CONTAINER_WORKDIR,
    DEFAULT_EXEC_TIMEOUT_SECONDS,
    DEFAULT_MAX_OUTPUT_CHARS,
    DockerEnvironmentConfig,
    EnvironmentInfo,
    EnvironmentType,
    ExecOptions,
    ExecResult,
    GlobOptions,
    GrepMatch,
    GrepOptions,
)

MANAGED_LABEL = "polos.managed"
SANDBOX_ID_LABEL = "polos.sandbox-id"
# Timeouts of the container's own life-cycle calls (not of user commands).
CREATE_TIMEOUT_SECONDS = 120.0
PULL_TIMEOUT_SECONDS = 600.0
CONTROL_TIMEOUT_SECONDS = 30.0
MAX_GLOB_RESULTS = 1000
DEFAULT_GREP_RESULTS = 100
# Marks every process an exec starts (it is inherited), so that a timed-out
# command's whole process tree inside the container can be found and killed:
# killing the local `docker exec` client does not stop them.
EXEC_MARKER_ENV = "POLOS_EXEC_ID"
_NO_INIT = re.compile(r"docker-init|catatonit|tini|init binary|--init", re.I)


class PathOutsideWorkspaceError(ValueError):
    """A file path that leaves the sandbox's workspace."""


class DockerEnvironment(ExecutionEnvironment):
    """Commands in a container, files through the bind-mounted workspace."""

    def __init__(
        self, config: DockerEnvironmentConfig, max_output_chars: int | None = None
    ) -> None:
        self._config = config
        self._workdir = posixpath.normpath(config.container_workdir or DEFAULT_CONTAINER_WORKDIR)
        if not posixpath.isabs(self._workdir):
            raise ValueError(
                f"container_workdir must be an absolute path inside the container, "
                f"got {config.container_workdir!r}"
            )
        self._name = f"polos-sandbox-{uuid.uuid4().hex[:8]}"
        self._container_id: str | None = None
        self._max_output_chars = max_output_chars or DEFAULT_MAX_OUTPUT_CHARS

    @property
    def type(self) -> EnvironmentType:
        return "docker"

    @property
    def config(self) -> DockerEnvironmentConfig:
        return self._config

    def get_container_name(self) -> str:
        return self._name

    # ------------------------------------------------------------ life cycle

    async def initialize(self, labels: dict[str, str] | None = None) -> None:
        if self._container_id is not None:
            return
        workspace = self._workspace()
        os.makedirs(workspace, exist_ok=True)
        all_labels = {MANAGED_LABEL: "true", **(labels or {})}
        sandbox_id = all_labels.get(SANDBOX_ID_LABEL)
        if sandbox_id and await self._adopt(sandbox_id, workspace):
            return
        await self._ensure_image()
        args = ["run", "-d", "--name", self._name]
        # A tiny init as PID 1 reaps what a timed-out command leaves when it is
        # killed (``sleep infinity`` as PID 1 would collect zombies forever).
        args += ["--init"]
        for key, value in all_labels.items():
            args += ["--label", f"{key}={value}"]
        args += ["-v", f"{workspace}:{self._workdir}:rw", "-w", self._workdir]
        if self._config.memory:
            args += ["--memory", self._config.memory]
        if self._config.cpus:
            args += ["--cpus", self._config.cpus]
        args += ["--network", self._config.network or "none"]
        for key, value in (self._config.env or {}).items():
            args += ["-e", f"{key}={value}"]
        args += [self._config.image, "sleep", "infinity"]
        created = await run_cli(args, timeout=CREATE_TIMEOUT_SECONDS)
        if created.exit_code != 0 and _NO_INIT.search(created.stderr):
            # This host has no init binary (docker-init, catatonit): go without.
            await self._remove(missing_ok=True)
            args.remove("--init")
            created = await run_cli(args, timeout=CREATE_TIMEOUT_SECONDS)
        if created.exit_code != 0 or created.timed_out:
            # A failed start (bad network, bad memory value) can leave the
            # container created but stopped; it must not stay behind.
            await self._remove(missing_ok=True)
            raise self._create_error(created.stderr, created.timed_out)
        self._container_id = created.stdout.strip()[:12]
        if self._config.setup_command:
            await self._run_setup(self._config.setup_command)

    async def _run_setup(self, command: str) -> None:
        result = await self.exec(command)
        if result.exit_code != 0:
            await self.destroy()
            output = (result.stderr.strip() or result.stdout.strip())[-2000:]
            raise DockerError(
                f"the sandbox's setup_command {command!r} failed with exit code "
                f"{result.exit_code}: {output}"
            )

    async def destroy(self) -> None:
        if self._container_id is None:
            return
        try:
            await self._remove(missing_ok=True)
        finally:
            self._container_id = None

    async def _remove(self, *, missing_ok: bool) -> None:
        removed = await run_cli(["rm", "-f", self._name], timeout=CONTROL_TIMEOUT_SECONDS)
        if removed.exit_code == 0 or (missing_ok and container_gone(removed.stderr)):
            return
        if daemon_down(removed.stderr):
            raise daemon_error(removed.stderr)
        raise DockerError(f"could not remove container {self._name}: {removed.stderr.strip()}")

    async def _adopt(self, sandbox_id: str, workspace: str) -> bool:
        """Take over this sandbox's container if a previous worker left it running
        on the same workspace; remove it if it is stopped or mounts another one."""
        for found in await list_sandbox_containers({SANDBOX_ID_LABEL: sandbox_id}):
            if found.running and await _mount_source(found.name, self._workdir) == workspace:
                self._name, self._container_id = found.name, found.id[:12]
                return True
            await remove_containers([found.name])
        return False

    async def _ensure_image(self) -> None:
        image = self._config.image
        inspected = await run_cli(["image", "inspect", image], timeout=CONTROL_TIMEOUT_SECONDS)
        if inspected.exit_code == 0:
            return
        if daemon_down(inspected.stderr):
            raise daemon_error(inspected.stderr)
        pulled = await run_cli(["pull", image], timeout=PULL_TIMEOUT_SECONDS)
        if pulled.exit_code != 0 or pulled.timed_out:
            if daemon_down(pulled.stderr):
                raise daemon_error(pulled.stderr)
            reason = "the pull timed out" if pulled.timed_out else pulled.stderr
            raise image_error(image, reason)

    def _create_error(self, stderr: str, timed_out: bool) -> DockerError:
        if timed_out:
            return DockerError(
                f"{docker_cli()} run did not start the sandbox container within "
                f"{CREATE_TIMEOUT_SECONDS:.0f} s (image {self._config.image!r})"
            )
        if daemon_down(stderr):
            return daemon_error(stderr)
        if image_missing(stderr):
            return image_error(self._config.image, stderr)
        return DockerError(
            f"could not start a sandbox container from image {self._config.image!r}: "
            f"{stderr.strip()}"
        )

    # ------------------------------------------------------------- commands

    async def exec(self, command: str, opts: ExecOptions | None = None) -> ExecResult:
        self._require_container()
        opts = opts or ExecOptions()
        timeout = opts.timeout or DEFAULT_EXEC_TIMEOUT_SECONDS
        if timeout <= 0:
            raise ValueError(f"exec timeout must be a positive number of seconds, got {timeout}")
        marker = uuid.uuid4().hex
        # -i only with stdin data: without it `docker exec -i` would wait for EOF.
        args = ["exec", "-i"] if opts.stdin is not None else ["exec"]
        args += ["-w", self._container_dir(opts.cwd), "-e", f"{EXEC_MARKER_ENV}={marker}"]
        for key, value in (opts.env or {}).items():
            args += ["-e", f"{key}={value}"]
        args += [self._name, "sh", "-c", command]
        started = time.monotonic()
        done = await run_cli(
            args, timeout=timeout, stdin=opts.stdin, max_chars=self._max_output_chars
        )
        duration_ms = int((time.monotonic() - started) * 1000)
        stderr = done.stderr
        if done.timed_out:
            await self._kill_marked(marker)
            stderr += f"\n[Process killed: timeout of {timeout} s exceeded]"
        elif done.exit_code != 0 and not done.stdout:
            self._raise_for_client_failure(done.stderr)
        stdout, cut = truncate_output(strip_ansi(done.stdout), self._max_output_chars)
        stderr, _ = truncate_output(strip_ansi(stderr), self._max_output_chars)
        return ExecResult(
            exit_code=137 if done.timed_out else done.exit_code,
            stdout=stdout,
            stderr=stderr,
            duration_ms=duration_ms,
            truncated=done.truncated or cut,
        )

    def _raise_for_client_failure(self, stderr: str) -> None:
        """The docker client itself failed (not the command): say so."""
        if container_gone(stderr):
            raise ContainerGoneError(
                f"the sandbox container {self._name} is gone or stopped (removed outside "
                f"Polos?): {stderr.strip()}"
            )
        if daemon_down(stderr):
            raise daemon_error(stderr)

    async def _kill_marked(self, marker: str) -> None:
        script = (
            "for p in /proc/[0-9]*; do "
            f'grep -q "{EXEC_MARKER_ENV}={marker}" "$p/environ" 2>/dev/null '
            '&& kill -9 "${p#/proc/}" 2>/dev/null; done; true'
        )
        await run_cli(["exec", self._name, "sh", "-c", script], timeout=CONTROL_TIMEOUT_SECONDS)

    async def glob(self, pattern: str, opts: GlobOptions | None = None) -> list[str]:
        opts = opts or GlobOptions()
        cwd = self._container_dir(opts.cwd)
        command = f"find {shlex.quote(cwd)} -type f {_match_clause(cwd, pattern)}"
        for ignored in opts.ignore or []:
            command += f" ! {_match_clause(cwd, ignored, directory_too=True)}"
        command += f" 2>/dev/null | sort | head -n {MAX_GLOB_RESULTS}"
        result = await self.exec(command)
        return [line for line in result.stdout.splitlines() if line]

    async def grep(self, pattern: str, opts: GrepOptions | None = None) -> list[GrepMatch]:
        opts = opts or GrepOptions()
        cwd = self._container_dir(opts.cwd)
        limit = opts.max_results or DEFAULT_GREP_RESULTS
        context = max(opts.context_lines or 0, 0)
        names = " -o ".join(f"-name {shlex.quote(i)}" for i in opts.include or [])
        # find + grep -H rather than grep -r --include: busybox grep has no --include.
        command = f"find {shlex.quote(cwd)} -type f"
        if names:
            command += f" \\( {names} \\)"
        command += " -exec grep -n -H"
        if context:
            command += f" -C {context}"
        command += f" -e {shlex.quote(pattern)} {{}} + 2>/dev/null"
        command += f" | head -n {limit * (2 * context + 2)}"
        result = await self.exec(command)
        return parse_grep_output(result.stdout)[:limit]

    # ---------------------------------------------------------------- files

    async def read_file(self, path: str) -> str:
        host = self.to_host_path(path)
        data = await asyncio.to_thread(_read_bytes, host)
        if is_binary(data):
            raise ValueError(f"cannot read binary file: {path}")
        return data.decode("utf-8", errors="replace")

    async def write_file(self, path: str, content: str) -> None:
        host = self.to_host_path(path)
        await asyncio.to_thread(_write_text, host, content)

    async def file_exists(self, path: str) -> bool:
        return os.path.exists(self.to_host_path(path))

    def to_host_path(self, container_path: str) -> str:
        """The host path of a container path in the workspace (relative paths are
        relative to the workspace); refuses any path that leaves the workspace,
        through ``..`` or through a symbolic link."""
        joined = posixpath.normpath(posixpath.join(self._workdir, container_path))
        if not _within(joined, self._workdir, posixpath.sep):
            raise PathOutsideWorkspaceError(
                f"path {container_path!r} is outside the sandbox workspace {self._workdir}: "
                "file tools only reach files in the workspace"
            )
        workspace = self._workspace()
        host = os.path.normpath(os.path.join(workspace, posixpath.relpath(joined, self._workdir)))
        real_workspace = os.path.realpath(workspace)
        if not _within(os.path.realpath(host), real_workspace, os.sep):
            raise PathOutsideWorkspaceError(
                f"path {container_path!r} leads outside the sandbox workspace through a "
                "symbolic link: file tools only reach files in the workspace"
            )
        return host

    def to_container_path(self, host_path: str) -> str:
        """The container path of a host path in the workspace."""
        workspace = self._workspace()
        resolved = os.path.abspath(host_path)
        if not _within(resolved, workspace, os.sep):
            raise PathOutsideWorkspaceError(
                f"host path {host_path!r} is not in the sandbox workspace {workspace}"
            )
        return posixpath.join(self._workdir, os.path.relpath(resolved, workspace))

    # ----------------------------------------------------------------- info

    def get_cwd(self) -> str:
        return self._workdir

    def get_info(self) -> EnvironmentInfo:
        return EnvironmentInfo(type="docker", cwd=self._workdir, sandbox_id=self._container_id)

    def _workspace(self) -> str:
        if not self._config.workspace_dir:
            raise ValueError(
                "DockerEnvironmentConfig.workspace_dir is not set: give the host folder to "
                "mount (sandbox_tools sets one under POLOS_WORKSPACES_DIR for you)"
            )
        return os.path.abspath(self._config.workspace_dir)

    def _container_dir(self, cwd: str | None) -> str:
        return posixpath.normpath(posixpath.join(self._workdir, cwd)) if cwd else self._workdir

    def _require_container(self) -> None:
        if self._container_id is None:
            raise RuntimeError(
                "the Docker sandbox has no container: call initialize() before using it "
                "(or it was destroyed)"
            )


# ------------------------------------------------------- finding containers


@dataclass(frozen=True)
class SandboxContainer:
    """A Polos-labelled container found on the Docker host."""

    name: str
    id: str
    running: bool
    created_at: datetime | None
    labels: dict[str, str]


async def list_sandbox_containers(labels: dict[str, str] | None = None) -> list[SandboxContainer]:
    """Every container labelled ``polos.managed=true`` (and ``labels``), running or not."""
    args = ["ps", "-a", "--no-trunc", "--filter", f"label={MANAGED_LABEL}=true"]
    for key, value in (labels or {}).items():
        args += ["--filter", f"label={key}={value}"]
    args += ["--format", "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.CreatedAt}}\t{{.Labels}}"]
    listed = await run_cli(args, timeout=CONTROL_TIMEOUT_SECONDS)
    if listed.exit_code != 0:
        if daemon_down(listed.stderr):
            raise daemon_error(listed.stderr)
        raise DockerError(f"could not list sandbox containers: {listed.stderr.strip()}")
    found = []
    for line in listed.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 5:
            continue
        cid, name, state, created, raw_labels = parts[:5]
        found.append(
            SandboxContainer(
                name=name,
                id=cid,
                running=state.strip().lower() == "running",
                created_at=_parse_created(created),
                labels=_parse_labels(raw_labels),
            )
        )
    return found


async def remove_containers(names: list[str]) -> None:
    """Force-remove containers; ones already gone are fine."""
    if not names:
        return
    removed = await run_cli(["rm", "-f", *names], timeout=CONTROL_TIMEOUT_SECONDS)
    if removed.exit_code != 0 and not container_gone(removed.stderr):
        if daemon_down(removed.stderr):
            raise daemon_error(removed.stderr)
        raise DockerError(f"could not remove containers {names}: {removed.stderr.strip()}")


async def _mount_source(name: str, destination: str) -> str | None:
    template = "{{range .Mounts}}{{.Destination}}\t{{.Source}}\n{{end}}"
    inspected = await run_cli(
        ["inspect", "--format", template, name], timeout=CONTROL_TIMEOUT_SECONDS
    )
    for line in inspected.stdout.splitlines():
        dest, _, source = line.partition("\t")
        if dest == destination:
            return os.path.abspath(source)
    return None


def _parse_labels(text: str) -> dict[str, str]:
    # Docker prints "k=v,k=v"; podman prints a Go map, "map[k:v k:v]".
    text = text.strip()
    if text.startswith("map[") and text.endswith("]"):
        return dict(item.split(":", 1) for item in text[4:-1].split() if ":" in item)
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def _parse_created(text: str) -> datetime | None:
    # Docker prints "2026-11-30 09:31:22 +0000 UTC"; podman a similar form.
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})", text.strip())
    if match is None:
        return None
    return datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H:%M:%S %z")


# ------------------------------------------------------------------ helpers


def _within(path: str, root: str, sep: str) -> bool:
    return path == root or path.startswith(root.rstrip(sep) + sep)


def _match_clause(cwd: str, pattern: str, *, directory_too: bool = False) -> str:
    """A find test for a glob: by name when it has no slash, else by path under
    ``cwd`` (``**/`` folds away: find's ``*`` already spans folders)."""
    pattern = pattern.removeprefix("./")
    while pattern.startswith("**/"):
        pattern = pattern[3:]
    if "/" not in pattern:
        clause = f"-name {shlex.quote(pattern)}"
        if directory_too:
            clause = f"\\( {clause} -o -path {shlex.quote('*/' + pattern + '/*')} \\)"
        return clause
    rooted = pattern if pattern.startswith("/") else f"{cwd.rstrip('/')}/{pattern}"
    return f"-path {shlex.quote(rooted.replace('**/', '').replace('**', '*'))}"


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _write_text(path: str, content: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
