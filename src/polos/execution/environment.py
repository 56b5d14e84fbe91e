"""The one interface every sandbox tool talks to.

A tool never knows whether its commands run as local subprocesses, inside a
Docker container or elsewhere: it receives an ExecutionEnvironment. Method
names and signatures follow polos-sdk 0.1.15 so environments written for Polos
plug in unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from polos.execution.types import (
    EnvironmentInfo,
    EnvironmentType,
    ExecOptions,
    ExecResult,
    GlobOptions,
    GrepMatch,
    GrepOptions,
)


class ExecutionEnvironment(ABC):
    """A place where commands run and files live.

    Paths given to the file methods are relative to get_cwd() unless absolute.
    Lifecycle: initialize() once before use, destroy() once at the end;
    destroy() must be safe to call on an environment that is already gone.
    """

    @property
    @abstractmethod
    def type(self) -> EnvironmentType:
        """ "local", "docker" or "e2b"."""

    @abstractmethod
    async def exec(self, command: str, opts: ExecOptions | None = None) -> ExecResult:
        """Run a shell command and wait for it (or for its timeout)."""

    @abstractmethod
    async def read_file(self, path: str) -> str:
        """Return a file's text (UTF-8)."""

    @abstractmethod
    async def write_file(self, path: str, content: str) -> None:
        """Write text to a file, creating missing parent folders."""

    @abstractmethod
    async def file_exists(self, path: str) -> bool:
        """Whether a file exists at path."""

    @abstractmethod
    async def glob(self, pattern: str, opts: GlobOptions | None = None) -> list[str]:
        """Paths of files matching a glob pattern."""

    @abstractmethod
    async def grep(self, pattern: str, opts: GrepOptions | None = None) -> list[GrepMatch]:
        """Lines of files matching a regular expression."""

    @abstractmethod
    async def initialize(self, labels: dict[str, str] | None = None) -> None:
        """Bring the environment up.

        labels tag the underlying resource (Docker container labels) so that a
        sandbox left behind by a crashed worker can be found and reclaimed;
        environments without such a notion ignore them.
        """

    @abstractmethod
    async def destroy(self) -> None:
        """Tear the environment down."""

    @abstractmethod
    def get_cwd(self) -> str:
        """Working directory inside the environment."""

    @abstractmethod
    def get_info(self) -> EnvironmentInfo:
        """Metadata describing the environment."""
