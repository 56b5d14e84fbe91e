"""Sandboxes for agents: execution environments and the tools that drive them.

``DockerEnvironment`` is imported on first use (``polos.execution.DockerEnvironment``),
so this package imports without anything Docker-related.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polos.execution.environment import ExecutionEnvironment
from polos.execution.local import LocalEnvironment
from polos.execution.output import is_binary, parse_grep_output, strip_ansi, truncate_output
from polos.execution.sandbox import ManagedSandbox, Sandbox
from polos.execution.sandbox_manager import SandboxManager, parse_duration
from polos.execution.sandbox_tools import sandbox_tools
from polos.execution.security import assert_safe_path, evaluate_allowlist, is_within_restriction
from polos.execution.tools import (
    create_edit_tool,
    create_exec_tool,
    create_glob_tool,
    create_grep_tool,
    create_read_tool,
    create_write_tool,
)
from polos.execution.types import (
    DockerEnvironmentConfig,
    E2BEnvironmentConfig,
    EnvironmentInfo,
    ExecOptions,
    ExecResult,
    ExecToolConfig,
    GlobOptions,
    GrepMatch,
    GrepOptions,
    LocalEnvironmentConfig,
    SandboxScope,
    SandboxToolsConfig,
)

if TYPE_CHECKING:
    from polos.execution.docker import DockerEnvironment


def __getattr__(name: str) -> Any:
    if name == "DockerEnvironment":
        from polos.execution.docker import DockerEnvironment

        return DockerEnvironment
    raise AttributeError(f"module 'polos.execution' has no attribute {name!r}")


__all__ = [
    "DockerEnvironment",
    "DockerEnvironmentConfig",
    "E2BEnvironmentConfig",
    "EnvironmentInfo",
    "ExecOptions",
    "ExecResult",
    "ExecToolConfig",
    "ExecutionEnvironment",
    "GlobOptions",
    "GrepMatch",
    "GrepOptions",
    "LocalEnvironment",
    "LocalEnvironmentConfig",
    "ManagedSandbox",
    "Sandbox",
    "SandboxManager",
    "SandboxScope",
    "SandboxToolsConfig",
    "assert_safe_path",
    "create_edit_tool",
    "create_exec_tool",
    "create_glob_tool",
    "create_grep_tool",
    "create_read_tool",
    "create_write_tool",
    "evaluate_allowlist",
    "is_binary",
    "is_within_restriction",
    "parse_duration",
    "parse_grep_output",
    "sandbox_tools",
    "strip_ansi",
    "truncate_output",
]
