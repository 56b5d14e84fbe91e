"""The ``exec`` tool: run a shell command in the sandbox, behind exec security.

Security modes (``ExecToolConfig.security``):

- ``allow-always``: every command runs (the default for Docker).
- ``allowlist``: commands matching the allowlist run; any other suspends for
  a person (the default for the local environment is stricter, below).
- ``approval-always``: every command suspends for a person (the default for
  ``env="local"``, which has no isolation).

The person answers ``{"approved": bool, "allow_always": bool, "feedback": str}``.
``allow_always`` lets the same command run without asking again for the rest
of the session (the run tree when there is no session); it is remembered as
an event in the store, so it holds across workers and crashes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from polos import serialization
from polos.engine.context import WorkflowContext
from polos.engine.run import current_run
from polos.execution.environment import ExecutionEnvironment
from polos.execution.security import evaluate_allowlist
from polos.execution.tools.path_approval import GetEnv
from polos.execution.types import ExecOptions, ExecToolConfig
from polos.tools.tool import Tool

ALWAYS_ALLOWED_EVENT = "exec_allow_always"


class ExecInput(BaseModel):
    """Arguments of the exec tool."""

    command: str = Field(description="The shell command to run")
    cwd: str | None = Field(default=None, description="Directory to run it in")
    env: dict[str, str] | None = Field(default=None, description="Extra environment variables")
    timeout: int | None = Field(default=None, description="Timeout in seconds (default 300)")


def approvals_topic(ctx: WorkflowContext) -> str:
    """Where "always allow" answers of this session (else run tree) are kept."""
    owner = f"session/{ctx.session_id}" if ctx.session_id else f"run/{ctx.root_execution_id}"
    return f"polos.sandbox/{owner}/exec-approvals"


async def _always_allowed(topic: str) -> list[str]:
    """Commands a person allowed for good on ``topic`` (read from the store)."""
    run = current_run.get()
    if run is None:
        return []
    commands: list[str] = []
    after = 0
    while True:
        rows = await run.store.read_events(topic, after, 500)
        for row in rows:
            data: Any = serialization.loads(row.data, strict=False)
            if isinstance(data, dict) and isinstance(data.get("command"), str):
                commands.append(data["command"])
        if len(rows) < 500:
            return commands
        after = rows[-1].seq


async def _request_approval(
    ctx: WorkflowContext, command: str, env: ExecutionEnvironment
) -> dict[str, Any]:
    info = env.get_info()
    approval_id = await ctx.step.uuid("_approval_id")
    response = await ctx.step.suspend(
        f"approve_exec_{approval_id}",
        {
            "_form": {
                "title": "Approve command execution",
                "description": f"The agent wants to run a shell command ({info.type} environment).",
                "fields": [
                    {
                        "key": "approved",
                        "type": "boolean",
                        "label": "Approve this command?",
                        "required": True,
                        "default": False,
                    },
                    {
                        "key": "allow_always",
                        "type": "boolean",
                        "label": "Always allow this command in this session?",
                        "required": False,
                        "default": False,
                    },
                    {
                        "key": "feedback",
                        "type": "textarea",
                        "label": "Feedback for the agent (optional)",
                        "description": "When rejecting, say what the agent should do instead.",
                        "required": False,
                    },
                ],
                "context": {"command": command, "cwd": env.get_cwd(), "environment": info.type},
            },
            "_source": "exec_security",
            "_tool": "exec",
        },
    )
    data = response.get("data") if isinstance(response, dict) else None
    return data if isinstance(data, dict) else {}


def _rejected(command: str, feedback: Any) -> dict[str, Any]:
    stderr = f"Command rejected by user: {command}"
    if feedback:
        stderr += f"\nUser feedback: {feedback}"
    return {"exit_code": -1, "stdout": "", "stderr": stderr, "duration_ms": 0, "truncated": False}


def needs_approval(command: str, config: ExecToolConfig | None) -> bool:
    """Whether ``command`` must be approved under ``config`` (before session approvals)."""
    security = (config.security if config else None) or "allow-always"
    if security == "approval-always":
        return True
    if security == "allowlist":
        return not evaluate_allowlist(command, (config.allowlist if config else None) or [])
    return False


def create_exec_tool(get_env: GetEnv, config: ExecToolConfig | None = None) -> Tool:
    """The exec tool over the environment ``get_env`` returns."""

    async def exec(ctx: WorkflowContext, input: ExecInput) -> dict[str, Any]:
        env = await get_env()
        command = input.command.strip()
        if not command:
            raise ValueError("command is empty: give the shell command to run")
        if needs_approval(command, config):
            topic = approvals_topic(ctx)
            allowed = await ctx.step.run("exec_always_allowed", _always_allowed, topic)
            if command not in allowed:
                answer = await _request_approval(ctx, command, env)
                if answer.get("approved") is not True:
                    return _rejected(command, answer.get("feedback"))
                if answer.get("allow_always") is True:
                    await ctx.step.publish_event(
                        "exec_remember_approval", topic, {"command": command}, ALWAYS_ALLOWED_EVENT
                    )
        result = await env.exec(
            command,
            ExecOptions(
                cwd=input.cwd,
                env=input.env,
                timeout=input.timeout or (config.timeout if config else None),
            ),
        )
        return result.model_dump()

    return Tool(
        id="exec",
        description=(
            "Run a shell command in the sandbox and return its stdout, stderr and exit code. "
            "Use it to build, test, install packages or run programs."
        ),
        parameters=ExecInput.model_json_schema(),
        func=exec,
    )
