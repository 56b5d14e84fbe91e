"""The six sandbox tools, each built over a function returning the shared environment."""

from polos.execution.tools.edit import EditToolConfig, create_edit_tool
from polos.execution.tools.exec import create_exec_tool
from polos.execution.tools.glob import create_glob_tool
from polos.execution.tools.grep import create_grep_tool
from polos.execution.tools.path_approval import (
    PathRestrictionConfig,
    is_path_allowed,
    require_path_approval,
)
from polos.execution.tools.read import create_read_tool
from polos.execution.tools.write import WriteToolConfig, create_write_tool

__all__ = [
    "EditToolConfig",
    "PathRestrictionConfig",
    "WriteToolConfig",
    "create_edit_tool",
    "create_exec_tool",
    "create_glob_tool",
    "create_grep_tool",
    "create_read_tool",
    "create_write_tool",
    "is_path_allowed",
    "require_path_approval",
]
