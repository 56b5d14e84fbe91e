"""The ``write`` tool: create or overwrite a file in the workspace."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from polos.engine.context import WorkflowContext
from polos.execution.environment import ExecutionEnvironment
from polos.execution.tools.path_approval import (
    GetEnv,
    PathRestrictionConfig,
    require_tool_approval,
)
from polos.tools.tool import Tool


class WriteInput(BaseModel):
    """Arguments of the write tool."""

    path: str = Field(description="Path of the file to write")
    content: str = Field(description="The file's new content")


class WriteToolConfig(BaseModel):
    """``approval="always"`` asks a person before every write."""

    approval: Literal["always", "none"] | None = None
    path_config: PathRestrictionConfig | None = None


def assert_writable(env: ExecutionEnvironment, path: str) -> None:
    """Fail before asking anyone when the environment would refuse the path anyway."""
    check = getattr(env, "assert_writable", None)
    if callable(check):
        check(path)


def create_write_tool(get_env: GetEnv, config: WriteToolConfig | None = None) -> Tool:
    """The write tool; parent folders are created as needed."""

    async def write(ctx: WorkflowContext, input: WriteInput) -> dict[str, Any]:
        env = await get_env()
        assert_writable(env, input.path)
        if config is not None and config.approval == "always":
            await require_tool_approval(ctx, "write", input.model_dump())
        await env.write_file(input.path, input.content)
        return {"success": True, "path": input.path}

    return Tool(
        id="write",
        description=(
            "Write content to a file, creating it (and its folders) or replacing it. "
            "Paths are relative to the workspace."
        ),
        parameters=WriteInput.model_json_schema(),
        func=write,
    )
