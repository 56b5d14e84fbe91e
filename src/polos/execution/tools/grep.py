"""The ``grep`` tool: lines of files matching a regular expression."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from polos.engine.context import WorkflowContext
from polos.execution.tools.path_approval import GetEnv, PathRestrictionConfig, check_read_access
from polos.execution.types import GrepOptions
from polos.tools.tool import Tool


class GrepInput(BaseModel):
    """Arguments of the grep tool."""

    pattern: str = Field(description="Regular expression to search for")
    cwd: str | None = Field(default=None, description="Directory to search in")
    include: list[str] | None = Field(
        default=None, description='Only files matching these patterns, e.g. ["*.py"]'
    )
    max_results: int | None = Field(default=None, description="Most matches to return (100)")
    context_lines: int | None = Field(default=None, description="Lines of context per match")


def create_grep_tool(get_env: GetEnv, path_config: PathRestrictionConfig | None = None) -> Tool:
    """The grep tool; searching outside the workspace asks a person first."""

    async def grep(ctx: WorkflowContext, input: GrepInput) -> dict[str, Any]:
        env = await get_env()
        approved = await check_read_access(ctx, env, "grep", input.cwd, path_config)
        matches = await env.grep(
            input.pattern,
            GrepOptions(
                cwd=approved or input.cwd,
                include=input.include,
                max_results=input.max_results,
                context_lines=input.context_lines,
            ),
        )
        return {"matches": [m.model_dump() for m in matches]}

    return Tool(
        id="grep",
        description=(
            "Search file contents for a regular expression; returns matching lines with "
            "their file paths and line numbers."
        ),
        parameters=GrepInput.model_json_schema(),
        func=grep,
    )
