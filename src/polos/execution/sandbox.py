"""``ManagedSandbox``: one execution environment with an identity and a lifetime.

The sandbox tools never build environments themselves: they ask the worker's
``SandboxManager`` for the sandbox of their run tree (or session) and the
sandbox creates its environment on first use. The environment's workspace
folder is named after the sandbox id, which the manager derives from the root
execution (or the session), so an attempt that resumes on another worker
after a crash finds the same files again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from polos.execution.types import (
    DockerEnvironmentConfig,
    LocalEnvironmentConfig,
    SandboxScope,
    SandboxToolsConfig,
)

if TYPE_CHECKING:
    from polos.execution.environment import ExecutionEnvironment

log = logging.getLogger("polos.sandbox")

#: Where managed workspaces live unless ``POLOS_WORKSPACES_DIR`` says otherwise.
DEFAULT_WORKSPACES_DIR = os.path.join(os.path.expanduser("~"), ".polos", "workspaces")
WORKSPACES_DIR_ENV = "POLOS_WORKSPACES_DIR"
#: Image used when ``env="docker"`` is chosen without a ``DockerEnvironmentConfig``.
DEFAULT_DOCKER_IMAGE = "node:20-slim"
#: A Docker sandbox's container is probed at most this often (seconds).
HEALTH_CHECK_INTERVAL_SECONDS = 30.0
#: Errors from a probe that mean the container is gone and must be made again.
_CONTAINER_GONE = ("No such container", "is not running", "ContainerGone")

E2B_UNSUPPORTED = (
    "E2B sandboxes are not supported by this Polos (no E2B client is built in); "
    "use env='docker' (a local container) or env='local' (subprocesses in a workspace folder)"
)


def workspaces_dir() -> str:
    """The folder holding managed workspaces: ``POLOS_WORKSPACES_DIR`` or ``~/.polos/workspaces``."""
    return os.path.abspath(
        os.path.expanduser(os.environ.get(WORKSPACES_DIR_ENV) or DEFAULT_WORKSPACES_DIR)
    )


@runtime_checkable
class Sandbox(Protocol):
    """What the sandbox tools need from a sandbox."""

    @property
    def id(self) -> str: ...

    @property
    def scope(self) -> SandboxScope: ...

    @property
    def config(self) -> SandboxToolsConfig: ...

    @property
    def worker_id(self) -> str: ...

    @property
    def session_id(self) -> str | None: ...

    @property
    def active_execution_ids(self) -> frozenset[str]: ...

    @property
    def initialized(self) -> bool: ...

    @property
    def destroyed(self) -> bool: ...

    @property
    def last_activity_at(self) -> float: ...

    async def get_environment(self) -> ExecutionEnvironment: ...

    def attach_execution(self, execution_id: str) -> None: ...

    def detach_execution(self, execution_id: str) -> None: ...

    async def destroy(self) -> None: ...

    async def recreate(self) -> None: ...


class ManagedSandbox:
    """An environment created lazily, shared by concurrent callers, torn down once."""

    def __init__(
        self,
        config: SandboxToolsConfig,
        worker_id: str,
        project_id: str,
        session_id: str | None = None,
    ) -> None:
        self._config = config
        self._id = config.id or f"sandbox-{uuid.uuid4().hex[:8]}"
        self._scope: SandboxScope = config.scope or "execution"
        self._worker_id = worker_id
        self._project_id = project_id
        self._session_id = session_id
        self._executions: set[str] = set()
        self._last_activity_at = time.monotonic()
        self._destroyed = False
        self._env: ExecutionEnvironment | None = None
        self._creating = asyncio.Lock()
        self._last_probe = 0.0
        #: Labels put on the environment's resources (container labels, process
        #: environment) so a crashed worker's leftovers can be found.
        self.extra_labels: dict[str, str] = {}

    # identity and state ------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def scope(self) -> SandboxScope:
        return self._scope

    @property
    def config(self) -> SandboxToolsConfig:
        return self._config

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def active_execution_ids(self) -> frozenset[str]:
        return frozenset(self._executions)

    @property
    def initialized(self) -> bool:
        return self._env is not None

    @property
    def destroyed(self) -> bool:
        return self._destroyed

    @property
    def last_activity_at(self) -> float:
        return self._last_activity_at

    def set_worker_id(self, worker_id: str) -> None:
        self._worker_id = worker_id

    @property
    def workspace_dir(self) -> str:
        """The host folder holding this sandbox's files."""
        env_type = self._config.env or "docker"
        if env_type == "local":
            local = self._config.local
            chosen = (local.cwd if local else None) or self._config.cwd
            if chosen:
                return os.path.abspath(os.path.expanduser(chosen))
        elif env_type == "docker" and self._config.docker and self._config.docker.workspace_dir:
            return os.path.abspath(os.path.expanduser(self._config.docker.workspace_dir))
        return self.default_workspace_dir()

    @property
    def workspace_is_managed(self) -> bool:
        """Whether the workspace folder was made by Polos (not chosen by the user)."""
        return self.workspace_dir == self.default_workspace_dir()

    def default_workspace_dir(self) -> str:
        """``<workspaces>/<project>/<session id, else sandbox id>``."""
        return os.path.join(workspaces_dir(), self._project_id, self._session_id or self._id)

    def labels(self) -> dict[str, str]:
        labels = {
            "polos.managed": "true",
            "polos.sandbox-id": self._id,
            "polos.worker-id": self._worker_id,
        }
        if self._session_id:
            labels["polos.session-id"] = self._session_id
        return {**labels, **self.extra_labels}

    # lifecycle ----------------------------------------------------------------------
    def attach_execution(self, execution_id: str) -> None:
        self._executions.add(execution_id)

    def detach_execution(self, execution_id: str) -> None:
        self._executions.discard(execution_id)

    async def get_environment(self) -> ExecutionEnvironment:
        """The environment, created on the first call; concurrent first calls share one."""
        if self._destroyed:
            raise RuntimeError(f"sandbox {self._id} has been destroyed")
        self._last_activity_at = time.monotonic()
        if self._env is not None:
            await self._probe()
        async with self._creating:
            if self._env is None:
                self._env = await self._create_environment()
            return self._env

    async def destroy(self) -> None:
        """Tear the environment down (idempotent); the workspace folder stays."""
        if self._destroyed:
            return
        self._destroyed = True
        env, self._env = self._env, None
        if env is not None:
            try:
                await env.destroy()
            except Exception as exc:
                log.warning("sandbox %s: tearing down its environment failed: %s", self._id, exc)

    async def recreate(self) -> None:
        """Drop the environment; the next ``get_environment`` makes a new one."""
        env, self._env = self._env, None
        if env is not None:
            with contextlib.suppress(Exception):
                await env.destroy()
        self._destroyed = False
        self._last_probe = 0.0

    def remove_workspace(self) -> None:
        """Delete the workspace folder if Polos made it for this sandbox alone.

        A folder the user chose, or one shared by a session, is left alone.
        """
        if self._session_id is None and self.workspace_is_managed:
            shutil.rmtree(self.workspace_dir, ignore_errors=True)

    # internals ----------------------------------------------------------------------
    async def _create_environment(self) -> ExecutionEnvironment:
        env_type = self._config.env or "docker"
        max_chars = self._config.exec.max_output_chars if self._config.exec else None
        workspace = self.workspace_dir
        if env_type == "local":
            from polos.execution.local import LocalEnvironment

            local = self._config.local or LocalEnvironmentConfig()
            restriction = local.path_restriction
            os.makedirs(workspace, exist_ok=True)
            local = local.model_copy(
                update={
                    "cwd": workspace,
                    "path_restriction": None if restriction is False else restriction or workspace,
                }
            )
            local_env = LocalEnvironment(local, max_chars)
            await local_env.initialize(self.labels())
            return local_env
        if env_type == "docker":
            from polos.execution.docker import DockerEnvironment

            docker = self._config.docker or DockerEnvironmentConfig(image=DEFAULT_DOCKER_IMAGE)
            docker = docker.model_copy(update={"workspace_dir": workspace})
            os.makedirs(workspace, exist_ok=True)  # it is bind-mounted: it must exist
            docker_env = DockerEnvironment(docker, max_chars)
            try:
                await docker_env.initialize(self.labels())
            except BaseException:
                with contextlib.suppress(Exception):
                    await docker_env.destroy()
                raise
            return docker_env
        if env_type == "e2b":
            raise NotImplementedError(E2B_UNSUPPORTED)
        raise ValueError(f"unknown sandbox env {env_type!r}: use 'docker' or 'local'")

    async def _probe(self) -> None:
        """Every 30 s at most, check a container still exists; make a new one if not."""
        env = self._env
        if env is None or env.type != "docker":
            return
        now = time.monotonic()
        if now - self._last_probe < HEALTH_CHECK_INTERVAL_SECONDS:
            return
        self._last_probe = now
        try:
            await env.exec("true")
        except Exception as exc:
            if any(sign in f"{type(exc).__name__}: {exc}" for sign in _CONTAINER_GONE):
                log.warning(
                    "sandbox %s: its container is gone (%s); making a new one", self._id, exc
                )
                await self.recreate()
