"""The ``edit`` tool: replace one exact piece of text in a file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from polos.engine.context import WorkflowContext
from polos.execution.tools.path_approval import (
    GetEnv,
    PathRestrictionConfig,
    require_tool_approval,
)
from polos.execution.tools.write import assert_writable
from polos.tools.tool import Tool


class EditInput(BaseModel):
    """Arguments of the edit tool."""

    path: str = Field(description="Path of the file to edit")
    old_text: str = Field(description="The exact text to replace (whitespace included)")
    new_text: str = Field(description="The text to put in its place")


class EditToolConfig(BaseModel):
    """``approval="always"`` asks a person before every edit."""

    approval: Literal["always", "none"] | None = None
    path_config: PathRestrictionConfig | None = None


def create_edit_tool(get_env: GetEnv, config: EditToolConfig | None = None) -> Tool:
    """The edit tool: the first occurrence of ``old_text`` becomes ``new_text``."""

    async def edit(ctx: WorkflowContext, input: EditInput) -> dict[str, Any]:
        env = await get_env()
        assert_writable(env, input.path)
        if not input.old_text:
            raise ValueError("old_text is empty: give the exact text to replace")
        content = await env.read_file(input.path)
        if input.old_text not in content:
            raise ValueError(
                f"old_text was not found in {input.path}; it must match exactly, "
                "whitespace and indentation included (read the file first)"
            )
        if config is not None and config.approval == "always":
            await require_tool_approval(ctx, "edit", input.model_dump())
            # The file may have changed while a person was deciding.
            content = await env.read_file(input.path)
            if input.old_text not in content:
                raise ValueError(f"old_text is no longer in {input.path}: it changed meanwhile")
        await env.write_file(input.path, content.replace(input.old_text, input.new_text, 1))
        return {"success": True, "path": input.path}

    return Tool(
        id="edit",
        description=(
            "Edit a file by replacing an exact piece of text (whitespace and indentation "
            "included) with new text. Use it for precise changes."
        ),
        parameters=EditInput.model_json_schema(),
        func=edit,
    )
