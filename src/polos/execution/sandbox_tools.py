"""``sandbox_tools(config)``: the exec, read, write, edit, glob and grep tools of one sandbox.

Example::

    agent = Agent(
        id="coder",
        provider="openai",
        model="gpt-4o-mini",
        tools=sandbox_tools(SandboxToolsConfig(env="local")),
    )

Each tool is a durable tool (a child workflow of the agent). The environment
behind them is found through the worker's ``SandboxManager`` when a tool
first runs, keyed by the agent's run tree (or session), so all the tools of
one agent run, on any worker, share one workspace.
"""

from __future__ import annotations

from polos.engine.run import current_run
from polos.execution.environment import ExecutionEnvironment
from polos.execution.sandbox import E2B_UNSUPPORTED
from polos.execution.sandbox_manager import manager_for
from polos.execution.tools.edit import EditToolConfig, create_edit_tool
from polos.execution.tools.exec import create_exec_tool
from polos.execution.tools.glob import create_glob_tool
from polos.execution.tools.grep import create_grep_tool
from polos.execution.tools.path_approval import PathRestrictionConfig
from polos.execution.tools.read import create_read_tool
from polos.execution.tools.write import WriteToolConfig, create_write_tool
from polos.execution.types import ExecToolConfig, SandboxToolsConfig
from polos.tools.tool import Tool

ALL_TOOLS = ("exec", "read", "write", "edit", "glob", "grep")


def sandbox_tools(config: SandboxToolsConfig | None = None) -> list[Tool]:
    """Build the sandbox tools (all six unless ``config.tools`` picks some).

    Defaults depend on the environment: ``env="docker"`` (the default) runs
    every command; ``env="local"``, which has no isolation, asks a person
    before every command (``exec.security="approval-always"``) and before
    every write or edit (``file_approval="always"``), and asks before a read,
    glob or grep outside the workspace.
    """
    config = config or SandboxToolsConfig()
    env_type = config.env or "docker"
    if env_type == "e2b":
        raise NotImplementedError(E2B_UNSUPPORTED)
    if env_type not in ("docker", "local"):
        raise ValueError(f"unknown sandbox env {env_type!r}: use 'docker' or 'local'")
    unknown = [t for t in config.tools or () if t not in ALL_TOOLS]
    if unknown:
        raise ValueError(f"unknown sandbox tools {unknown}: choose from {list(ALL_TOOLS)}")

    async def get_env() -> ExecutionEnvironment:
        run = current_run.get()
        if run is None:
            raise RuntimeError(
                "sandbox tools run inside a Polos worker (as tools of an agent or workflow); "
                "call them through an agent, not directly"
            )
        row = run.row
        manager = manager_for(run)
        sandbox = await manager.get_or_create_sandbox(
            config, row.root_execution_id or row.id, row.session_id
        )
        return await sandbox.get_environment()

    exec_config = config.exec
    if env_type == "local" and not (exec_config and exec_config.security):
        exec_config = (exec_config or ExecToolConfig()).model_copy(
            update={"security": "approval-always"}
        )

    restriction = config.local.path_restriction if config.local else None
    path_config = PathRestrictionConfig(restriction) if isinstance(restriction, str) else None
    file_approval = config.file_approval or ("always" if env_type == "local" else "none")
    write_config = WriteToolConfig(approval=file_approval, path_config=path_config)
    edit_config = EditToolConfig(approval=file_approval, path_config=path_config)

    chosen = set(config.tools or ALL_TOOLS)
    builders = {
        "exec": lambda: create_exec_tool(get_env, exec_config),
        "read": lambda: create_read_tool(get_env, path_config),
        "write": lambda: create_write_tool(get_env, write_config),
        "edit": lambda: create_edit_tool(get_env, edit_config),
        "glob": lambda: create_glob_tool(get_env, path_config),
        "grep": lambda: create_grep_tool(get_env, path_config),
    }
    return [builders[name]() for name in ALL_TOOLS if name in chosen]
