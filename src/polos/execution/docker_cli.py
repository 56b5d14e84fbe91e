"""Running the ``docker`` command-line client from asyncio.

Polos drives Docker through its CLI rather than an API library, so any
compatible client works: set ``POLOS_DOCKER_CLI=podman`` to use podman. This
module runs one CLI call with a timeout, keeps a bounded head and tail of what
it prints (a command that prints gigabytes costs a few hundred kilobytes here),
and turns the client's own failures (no CLI, no daemon, no image, container
gone) into errors that say what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass

from polos.execution.output import HEAD_SHARE, truncate_output

CLI_ENV = "POLOS_DOCKER_CLI"
# Once the command has exited, how long to keep reading output that a process
# it left running in the background may still be writing to the same pipes.
DRAIN_GRACE_SECONDS = 2.0
_READ_CHUNK = 65536


class DockerError(RuntimeError):
    """Docker (or the compatible CLI) could not do what a sandbox needed."""


class DockerUnavailableError(DockerError):
    """The CLI is not installed or its daemon does not answer."""


class DockerImageError(DockerError):
    """The sandbox image is neither present locally nor pullable."""


class ContainerGoneError(DockerError):
    """The sandbox's container was removed or stopped behind Polos's back."""


def docker_cli() -> str:
    """The client to run: ``POLOS_DOCKER_CLI`` or ``docker``."""
    return os.environ.get(CLI_ENV) or "docker"


@dataclass
class CliResult:
    """What one CLI call printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool


class _Capture:
    """A stream's bytes: everything up to ``limit``, beyond that the first and last
    ``limit`` bytes and a count of what was dropped between them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.limit
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self, max_chars: int) -> tuple[str, bool]:
        """The decoded output, cut to ``max_chars`` (20% head, 80% tail) if longer."""
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if not self.dropped:
            return truncate_output(head + tail, max_chars)
        keep_head = int(max_chars * HEAD_SHARE)
        keep_tail = max_chars - keep_head
        omitted = len(head) - keep_head + self.dropped + max(len(tail) - keep_tail, 0)
        kept_tail = tail[-keep_tail:] if keep_tail else ""
        return f"{head[:keep_head]}\n\n--- truncated {omitted} characters ---\n\n{kept_tail}", True


async def _pump(stream: asyncio.StreamReader | None, capture: _Capture) -> None:
    if stream is None:
        return
    while chunk := await stream.read(_READ_CHUNK):
        capture.add(chunk)


async def _feed(stream: asyncio.StreamWriter | None, data: str | None) -> None:
    if stream is None or data is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data.encode())
        await stream.drain()
        stream.close()


async def run_cli(
    args: list[str],
    *,
    timeout: float,
    stdin: str | None = None,
    max_chars: int = 100_000,
) -> CliResult:
    """Run ``<cli> args...``; on timeout the client process is killed (killing
    what it started inside a container is the caller's job)."""
    cli = docker_cli()
    try:
        proc = await asyncio.create_subprocess_exec(
            cli,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise DockerUnavailableError(
            f"the {cli!r} command was not found on PATH: install Docker "
            f"(or another compatible CLI and name it in {CLI_ENV}, e.g. {CLI_ENV}=podman)"
        ) from None
    # Bytes, not characters, are captured: a UTF-8 character is at most 4 bytes.
    out, err = _Capture(max_chars * 4), _Capture(max_chars * 4)
    # stdin is fed by a task like the readers: a command that never reads it
    # must not block us past the timeout once the pipe buffer is full.
    tasks = [
        asyncio.create_task(_pump(proc.stdout, out)),
        asyncio.create_task(_pump(proc.stderr, err)),
        asyncio.create_task(_feed(proc.stdin, stdin)),
    ]
    readers = tasks[:2]
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        # The process is gone; its output is read to the end unless something it
        # left in the background keeps the pipes open past the grace period.
        _done, pending = await asyncio.wait(readers, timeout=DRAIN_GRACE_SECONDS)
        for task in pending:
            task.cancel()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        for task in tasks:
            task.cancel()
    stdout, truncated = out.text(max_chars)
    stderr, _ = err.text(max_chars)
    code = proc.returncode if proc.returncode is not None else 1
    return CliResult(code, stdout, stderr, timed_out, truncated)


_NO_DAEMON = re.compile(
    r"Cannot connect to the Docker daemon|Is the docker daemon running|error during connect"
    r"|Cannot connect to Podman|unable to connect to Podman",
    re.I,
)
_NO_IMAGE = re.compile(
    r"Unable to find image|No such image|pull access denied|manifest unknown|image not known"
    r"|repository does not exist|failed to resolve reference|short-name .* did not resolve",
    re.I,
)
_GONE = re.compile(
    r"^(Error response from daemon: |Error: )?(No such container|Container \S+ is not running"
    r"|no container with name or ID|can only .* running container)",
    re.I | re.M,
)


def daemon_down(stderr: str) -> bool:
    return bool(_NO_DAEMON.search(stderr))


def image_missing(stderr: str) -> bool:
    return bool(_NO_IMAGE.search(stderr))


def container_gone(stderr: str) -> bool:
    return bool(_GONE.search(stderr))


def daemon_error(stderr: str) -> DockerUnavailableError:
    cli = docker_cli()
    return DockerUnavailableError(
        f"the {cli} daemon is not running or not reachable ({stderr.strip()}): start it "
        f"(`sudo systemctl start docker`, or `dockerd &`) and check that `{cli} info` works"
    )


def image_error(image: str, stderr: str) -> DockerImageError:
    cli = docker_cli()
    return DockerImageError(
        f"the sandbox image {image!r} is not available locally and could not be pulled "
        f"({stderr.strip()}): run `{cli} pull {image}`, or without a registry build a root "
        f"folder and load it with `tar -C root -c . | {cli} import - {image}`"
    )
