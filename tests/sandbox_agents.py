"""An agent with local sandbox tools, served by worker subprocesses in crash tests.

The fake model's address comes from ``POLOS_TEST_LLM_URL``.
"""

from __future__ import annotations

import os

from polos import Agent, ExecToolConfig, SandboxToolsConfig, sandbox_tools

tools = sandbox_tools(
    SandboxToolsConfig(
        env="local", exec=ExecToolConfig(security="allow-always"), file_approval="none"
    )
)
crash_agent = Agent(
    id="sbx_crash_agent",
    provider="openai",
    model="gpt-test",
    provider_base_url=os.environ.get("POLOS_TEST_LLM_URL"),
    api_key="sk-test",
    tools=tools,
)
