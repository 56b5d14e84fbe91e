"""The ``glob`` tool: files whose names match a pattern."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from polos.engine.context import WorkflowContext
from polos.execution.tools.path_approval import GetEnv, PathRestrictionConfig, check_read_access
from polos.execution.types import GlobOptions
from polos.tools.tool import Tool


class GlobInput(BaseModel):
    """Arguments of the glob tool."""

    pattern: str = Field(description='Pattern to match, e.g. "*.py" or "src/**/*.js"')
    cwd: str | None = Field(default=None, description="Directory to search in")
    ignore: list[str] | None = Field(default=None, description="Patterns to leave out")


def create_glob_tool(get_env: GetEnv, path_config: PathRestrictionConfig | None = None) -> Tool:
    """The glob tool; searching outside the workspace asks a person first."""

    async def glob(ctx: WorkflowContext, input: GlobInput) -> dict[str, Any]:
        env = await get_env()
        approved = await check_read_access(ctx, env, "glob", input.cwd, path_config)
        files = await env.glob(
            input.pattern, GlobOptions(cwd=approved or input.cwd, ignore=input.ignore)
        )
        return {"files": files}

    return Tool(
        id="glob",
        description="Find files whose path matches a glob pattern; returns their paths.",
        parameters=GlobInput.model_json_schema(),
        func=glob,
    )
