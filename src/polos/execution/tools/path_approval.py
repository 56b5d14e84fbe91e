"""Asking a person before a file tool reaches outside the workspace, or before it writes.

Both questions are ``ctx.step.suspend`` calls inside the tool's own run (a
child of the agent), so they wait durably, cost no worker while waiting, and
are resumed with the agent run's ids like any suspend. Step keys start with
``approve_<tool>_`` as in Polos, which is what approval UIs dispatch on.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from polos.engine.context import WorkflowContext
from polos.execution.environment import ExecutionEnvironment
from polos.execution.security import is_within_restriction

GetEnv = Callable[[], Awaitable[ExecutionEnvironment]]

_FEEDBACK_FIELD = {
    "key": "feedback",
    "type": "textarea",
    "label": "Feedback for the agent (optional)",
    "description": "When rejecting, say what the agent should do instead.",
    "required": False,
}


@dataclass
class PathRestrictionConfig:
    """Paths under ``path_restriction`` need no approval; others do."""

    path_restriction: str


def is_path_allowed(resolved_path: str, restriction: str) -> bool:
    """Whether ``resolved_path`` lies inside ``restriction`` (symbolic links followed)."""
    real = os.path.realpath(resolved_path)
    return is_within_restriction(real, os.path.realpath(restriction))


def restriction_of(
    env: ExecutionEnvironment, configured: PathRestrictionConfig | None
) -> str | None:
    """The folder a file tool may use freely: configured, else the local workspace.

    Only a local environment has one: a container is its own boundary.
    """
    if configured is not None:
        return configured.path_restriction
    return getattr(env, "path_restriction", None) if env.type == "local" else None


def resolve(env: ExecutionEnvironment, path: str) -> str:
    return os.path.abspath(os.path.join(env.get_cwd(), os.path.expanduser(path)))


def _answer(response: Any) -> dict[str, Any]:
    data = response.get("data") if isinstance(response, dict) else None
    return data if isinstance(data, dict) else {}


async def require_path_approval(
    ctx: WorkflowContext,
    tool_name: str,
    target_path: str,
    restriction: str,
) -> None:
    """Suspend until a person allows ``tool_name`` to reach ``target_path``; raise if refused."""
    approval_id = await ctx.step.uuid("_approval_id")
    response = await ctx.step.suspend(
        f"approve_{tool_name}_{approval_id}",
        {
            "_form": {
                "title": f"{tool_name}: access outside the workspace",
                "description": (
                    f"The agent wants to {tool_name} {target_path}, outside its workspace."
                ),
                "fields": [
                    {
                        "key": "approved",
                        "type": "boolean",
                        "label": "Allow this operation?",
                        "required": True,
                        "default": False,
                    },
                    _FEEDBACK_FIELD,
                ],
                "context": {"tool": tool_name, "path": target_path, "restriction": restriction},
            },
            "_source": "path_approval",
            "_tool": tool_name,
        },
    )
    answer = _answer(response)
    if answer.get("approved") is not True:
        message = f"Access to {target_path!r} (outside the workspace) was rejected by the user."
        if answer.get("feedback"):
            message += f" Feedback: {answer['feedback']}"
        raise PermissionError(message)


async def require_tool_approval(ctx: WorkflowContext, tool_name: str, arguments: Any) -> None:
    """Suspend until a person approves this call of ``tool_name``; raise if refused."""
    approval_id = await ctx.step.uuid("_approval_id")
    response = await ctx.step.suspend(
        f"approve_{tool_name}_{approval_id}",
        {
            "_form": {
                "title": f"Approve tool: {tool_name}",
                "description": f'The agent wants to use the "{tool_name}" tool.',
                "fields": [
                    {
                        "key": "approved",
                        "type": "boolean",
                        "label": "Approve this tool call?",
                        "required": True,
                        "default": False,
                    },
                    _FEEDBACK_FIELD,
                ],
                "context": {"tool": tool_name, "input": arguments},
            },
            "_source": "tool_approval",
            "_tool": tool_name,
        },
    )
    answer = _answer(response)
    if answer.get("approved") is not True:
        message = f'Tool "{tool_name}" was rejected by the user.'
        if answer.get("feedback"):
            message += f" Feedback: {answer['feedback']}"
        raise PermissionError(message)


async def check_read_access(
    ctx: WorkflowContext,
    env: ExecutionEnvironment,
    tool_name: str,
    path: str | None,
    configured: PathRestrictionConfig | None,
) -> str | None:
    """Ask for approval when ``path`` leaves the workspace; the real path to use then."""
    restriction = restriction_of(env, configured)
    if path is None or restriction is None:
        return None
    resolved = resolve(env, path)
    if is_path_allowed(resolved, restriction):
        return None
    await require_path_approval(ctx, tool_name, os.path.realpath(resolved), restriction)
    return os.path.realpath(resolved)
