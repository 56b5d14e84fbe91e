"""Data shapes shared by every execution environment and the sandbox tools.

The field names, types and defaults follow polos-sdk 0.1.15 so that code
written against Polos (and its examples) builds the same objects here.
Every model is a pydantic model because tool inputs and outputs are recorded
in the store and must round-trip through JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EnvironmentType = Literal["local", "docker", "e2b"]
SandboxScope = Literal["execution", "session"]
SandboxToolName = Literal["exec", "read", "write", "edit", "glob", "grep"]

# Defaults that the environments and tools apply when a field is left None.
DEFAULT_EXEC_TIMEOUT_SECONDS = 300
DEFAULT_MAX_OUTPUT_CHARS = 100_000
DEFAULT_CONTAINER_WORKDIR = "/workspace"
DEFAULT_IDLE_DESTROY_TIMEOUT = "1h"


# ---------------------------------------------------------------- operations


class ExecOptions(BaseModel):
    """How to run one shell command."""

    cwd: str | None = Field(default=None, description="Directory to run the command in")
    env: dict[str, str] | None = Field(default=None, description="Extra environment variables")
    timeout: int | None = Field(
        default=None, description="Seconds before the command is killed (default 300)"
    )
    stdin: str | None = Field(default=None, description="Text written to the command's stdin")


class ExecResult(BaseModel):
    """What a finished (or killed) command produced."""

    exit_code: int = Field(description="Exit status; 0 means success")
    stdout: str = Field(description="Captured standard output")
    stderr: str = Field(description="Captured standard error")
    duration_ms: int = Field(description="Wall-clock run time in milliseconds")
    truncated: bool = Field(description="True when output was cut to the size limit")


class GlobOptions(BaseModel):
    """How to search for files by name pattern."""

    cwd: str | None = Field(default=None, description="Directory the search starts from")
    ignore: list[str] | None = Field(default=None, description="Patterns to leave out")


class GrepOptions(BaseModel):
    """How to search file contents."""

    cwd: str | None = Field(default=None, description="Directory the search starts from")
    include: list[str] | None = Field(
        default=None, description='Only files whose name matches one of these (e.g. "*.py")'
    )
    max_results: int | None = Field(default=None, description="Stop after this many matches")
    context_lines: int | None = Field(
        default=None, description="Lines of context to return around each match"
    )


class GrepMatch(BaseModel):
    """One line that matched a grep."""

    path: str = Field(description="File path, relative to the search directory")
    line: int = Field(description="1-based line number")
    text: str = Field(description="The matching line")
    context: str | None = Field(default=None, description="Surrounding lines, when asked for")


class EnvironmentInfo(BaseModel):
    """Describes a live environment."""

    type: EnvironmentType = Field(description="Which kind of environment this is")
    cwd: str = Field(description="Working directory inside the environment")
    sandbox_id: str | None = Field(
        default=None, description="Container id (docker) or sandbox id (e2b)"
    )
    os: str | None = Field(default=None, description="Operating system description")


# ------------------------------------------------------------- configuration


class DockerEnvironmentConfig(BaseModel):
    """Settings for a sandbox that runs in a Docker container."""

    image: str = Field(description='Image to run, e.g. "node:20-slim"')
    workspace_dir: str | None = Field(
        default=None,
        description="Host folder bind-mounted as the workspace (managed for you when None)",
    )
    container_workdir: str | None = Field(
        default=None, description='Workspace path inside the container (default "/workspace")'
    )
    env: dict[str, str] | None = Field(default=None, description="Container environment")
    memory: str | None = Field(default=None, description='Memory limit, e.g. "512m"')
    cpus: str | None = Field(default=None, description='CPU limit, e.g. "0.5"')
    network: str | None = Field(default=None, description='Network mode (default "none")')
    setup_command: str | None = Field(
        default=None, description="Command run once after the container starts"
    )


class E2BEnvironmentConfig(BaseModel):
    """Settings for an E2B cloud sandbox (accepted, but E2B is not supported here)."""

    template: str | None = Field(default=None, description='Template name (default "base")')
    api_key: str | None = Field(default=None, description="API key (default: E2B_API_KEY)")
    timeout: int | None = Field(default=None, description="Sandbox lifetime in seconds")
    cwd: str | None = Field(default=None, description="Working directory in the sandbox")
    env: dict[str, str] | None = Field(default=None, description="Environment variables")
    setup_command: str | None = Field(
        default=None, description="Command run once after the sandbox starts"
    )


class LocalEnvironmentConfig(BaseModel):
    """Settings for a sandbox that runs commands as local subprocesses."""

    cwd: str | None = Field(
        default=None, description="Working directory (default: a managed workspace folder)"
    )
    path_restriction: str | Literal[False] | None = Field(
        default=None,
        description=(
            "Folder that file operations are confined to; None means the working "
            "directory when managed by a sandbox, False turns confinement off"
        ),
    )


class ExecToolConfig(BaseModel):
    """Security and limits of the exec tool."""

    security: Literal["allow-always", "allowlist", "approval-always"] | None = Field(
        default=None,
        description=(
            "allow-always runs everything; allowlist asks a human for commands not "
            "on the allowlist; approval-always asks for every command"
        ),
    )
    allowlist: list[str] | None = Field(
        default=None, description='Command patterns run without approval, e.g. "ls *"'
    )
    timeout: int | None = Field(default=None, description="Default timeout in seconds (300)")
    max_output_chars: int | None = Field(
        default=None, description="Output longer than this is truncated (100000)"
    )


class SandboxToolsConfig(BaseModel):
    """Arguments of sandbox_tools(): which environment, its lifetime and its tools."""

    env: EnvironmentType | None = Field(
        default=None, description='Environment kind (default "docker")'
    )
    scope: SandboxScope | None = Field(
        default=None,
        description=(
            'Lifetime (default "execution"); "session" keeps one sandbox for every '
            "execution sharing a session_id"
        ),
    )
    id: str | None = Field(default=None, description="Sandbox id (generated when None)")
    idle_destroy_timeout: str | None = Field(
        default=None,
        description='Idle time before a session sandbox is destroyed, e.g. "30m", "1h", "3d"',
    )
    cwd: str | None = Field(default=None, description="Working directory override")
    tools: list[SandboxToolName] | None = Field(
        default=None, description="Which tools to build (default: all six)"
    )
    docker: DockerEnvironmentConfig | None = Field(default=None, description="Docker settings")
    e2b: E2BEnvironmentConfig | None = Field(default=None, description="E2B settings")
    local: LocalEnvironmentConfig | None = Field(default=None, description="Local settings")
    exec: ExecToolConfig | None = Field(default=None, description="Exec tool settings")
    file_approval: Literal["always", "none"] | None = Field(
        default=None,
        description=(
            "Whether write and edit ask a human first; default 'always' for the local "
            "environment, 'none' otherwise"
        ),
    )
