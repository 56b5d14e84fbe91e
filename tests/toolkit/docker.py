"""Real Docker for the sandbox tests, with no registry.

No image registry is reachable where the tests run, so the kit builds its own
image: a root folder holding Debian's static ``/bin/busybox`` and a link for
each of its applets, imported with ``docker import``. Polos's examples ask for
``node:20-slim``; when no image of that name is here, the kit tags the busybox
image under it (the examples' scripted tool calls only use the shell). An image
that already exists under a name is never replaced.

``./run test`` installs docker.io and busybox-static and starts ``dockerd``.
When Docker still cannot be used, :func:`require_docker` skips the test with
the reason, and fails it under ``CI=true``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from conftest import IN_CI

CLI = os.environ.get("POLOS_DOCKER_CLI", "docker")
BUSYBOX = os.environ.get("POLOS_TEST_BUSYBOX", "/bin/busybox")
TEST_IMAGE = "polos-test-busybox:latest"
EXAMPLE_IMAGE = "node:20-slim"
MANAGED_LABEL = "polos.managed=true"
_state: dict[str, str | None] = {}


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; raise with its stderr when ``check`` and it fails."""
    done = subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{CLI} {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def docker_problem() -> str | None:
    """None when Docker can run the tests' containers, else why not (checked once)."""
    if "problem" not in _state:
        _state["problem"] = _probe()
    return _state["problem"]


def _probe() -> str | None:
    if shutil.which(CLI) is None:
        return f"the {CLI!r} command is not installed (apt-get install -y docker.io)"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "`docker info` hung for 20 s: the Docker daemon does not answer"
    if info.returncode != 0:
        return (
            "the Docker daemon is not running (start it with "
            f"`dockerd --iptables=false --bridge=none &`): {info.stderr.strip()}"
        )
    if not os.path.exists(BUSYBOX):
        return f"{BUSYBOX} is missing (apt-get install -y busybox-static) to build the test image"
    try:
        ensure_image(TEST_IMAGE)
    except AssertionError as exc:
        return f"could not build the busybox test image: {exc}"
    return None


def require_docker() -> None:
    problem = docker_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: the Docker tests must run)")
        pytest.skip(problem)


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, check=False).returncode == 0


def ensure_image(name: str) -> str:
    """An image called ``name``: kept if it exists, else the busybox image tagged so."""
    if image_exists(name):
        return name
    if name != TEST_IMAGE and image_exists(TEST_IMAGE):
        docker("tag", TEST_IMAGE, name)
        return name
    _import(name)
    return name


def _import(name: str) -> None:
    done = subprocess.run(
        [CLI, "import", "-", name], input=_busybox_rootfs(), capture_output=True, timeout=120
    )
    if done.returncode != 0:
        raise AssertionError(f"{CLI} import failed: {done.stderr.decode(errors='replace')}")


def _busybox_rootfs() -> bytes:
    """A tar of a root folder: /bin/busybox, a link per applet, /tmp and /workspace."""
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder, mode in (("bin", 0o755), ("tmp", 0o1777), ("workspace", 0o755)):
            entry = tarfile.TarInfo(folder)
            entry.type, entry.mode = tarfile.DIRTYPE, mode
            tar.addfile(entry)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in applets.stdout.split():
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def managed_containers(label: str = MANAGED_LABEL) -> list[str]:
    """Names of the containers (running or not) that carry ``label``."""
    listed = docker("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}")
    return [line for line in listed.stdout.split() if line]


def remove_containers(names: list[str]) -> None:
    if names:
        docker("rm", "-f", *names, check=False)
