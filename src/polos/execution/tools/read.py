"""The ``read`` tool: a text file's contents, optionally a range of its lines."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from polos.engine.context import WorkflowContext
from polos.execution.tools.path_approval import GetEnv, PathRestrictionConfig, check_read_access
from polos.tools.tool import Tool


class ReadInput(BaseModel):
    """Arguments of the read tool."""

    path: str = Field(description="Path of the file to read")
    offset: int | None = Field(default=None, description="First line to return (0-based)")
    limit: int | None = Field(default=None, description="How many lines to return at most")


def create_read_tool(get_env: GetEnv, path_config: PathRestrictionConfig | None = None) -> Tool:
    """The read tool; reading outside the workspace asks a person first."""

    async def read(ctx: WorkflowContext, input: ReadInput) -> dict[str, Any]:
        env = await get_env()
        approved_path = await check_read_access(ctx, env, "read", input.path, path_config)
        content = await env.read_file(approved_path or input.path)
        if input.offset is not None or input.limit is not None:
            lines = content.split("\n")
            start = max(input.offset or 0, 0)
            stop = start + input.limit if input.limit is not None else len(lines)
            content = "\n".join(lines[start:stop])
        return {"content": content, "path": input.path}

    return Tool(
        id="read",
        description=(
            "Read a text file and return its content. Optionally give offset (first line, "
            "0-based) and limit (number of lines)."
        ),
        parameters=ReadInput.model_json_schema(),
        func=read,
    )
