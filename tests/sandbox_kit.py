"""Helpers of the sandbox tests: a Polos serving one agent and its sandbox tools,
and the state of sandbox workspaces (what the model was told the tools
returned is read with example_agents_kit's tool_outputs).

Every sandbox tool set registers the tool ids ``exec``, ``read``... (as in
Polos), so each test builds its own tools and serves exactly those.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from polos import Agent, Polos, SandboxToolsConfig, sandbox_tools
from polos.execution.sandbox_manager import managers
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn

AGENT_ID = "sbx_agent"


def make_agent(
    llm: FakeOpenAIServer, config: SandboxToolsConfig, agent_id: str = AGENT_ID
) -> tuple[Agent, list[Any]]:
    tools = sandbox_tools(config)
    agent = Agent(
        id=agent_id,
        provider="openai",
        model="gpt-test",
        provider_base_url=llm.base_url,
        api_key="sk-test",
        tools=tools,
    )
    return agent, tools


@asynccontextmanager
async def serving(database_url: str, agent: Agent, tools: list[Any]) -> AsyncIterator[Polos]:
    polos = Polos(
        database_url=database_url,
        workflows=[agent, *tools],
        hold_seconds=0,
        lease_seconds=5.0,
        poll_interval=0.05,
        shutdown_grace_seconds=2.0,
    )
    await polos.start()
    try:
        yield polos
    finally:
        await polos.stop()


def then(check: Callable[[RecordedRequest], None], turn: Turn) -> Callable[[RecordedRequest], Turn]:
    """A turn that first runs ``check`` on the request (and on the world at that moment)."""

    def answer(request: RecordedRequest) -> Turn:
        check(request)
        return turn

    return answer


def workspaces(root: Path) -> list[Path]:
    """The managed workspace folders under ``POLOS_WORKSPACES_DIR`` (project ``default``)."""
    project = root / "default"
    return sorted(p for p in project.iterdir()) if project.is_dir() else []


def live_sandboxes() -> int:
    return sum(len(m.sandboxes) for m in managers())


async def until_no_sandboxes(timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if live_sandboxes() == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{live_sandboxes()} sandbox(es) still alive after {timeout}s")


def pid_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def set_workspaces(monkeypatch: Any, root: Path) -> Path:
    monkeypatch.setenv("POLOS_WORKSPACES_DIR", str(root))
    os.makedirs(root, exist_ok=True)
    return root
