"""An agent with Docker sandbox tools, served by worker subprocesses in crash tests.

Kept apart from ``sandbox_agents`` because both register the tool ids
``exec``, ``read``...; a worker imports one of the two. The fake model's
address comes from ``POLOS_TEST_LLM_URL``, the image from ``POLOS_TEST_IMAGE``.
"""

from __future__ import annotations

import os

from polos import Agent, DockerEnvironmentConfig, SandboxToolsConfig, sandbox_tools

tools = sandbox_tools(
    SandboxToolsConfig(
        env="docker",
        docker=DockerEnvironmentConfig(
            image=os.environ.get("POLOS_TEST_IMAGE", "polos-test-busybox:latest")
        ),
    )
)
docker_agent = Agent(
    id="sbx_docker_agent",
    provider="openai",
    model="gpt-test",
    provider_base_url=os.environ.get("POLOS_TEST_LLM_URL"),
    api_key="sk-test",
    tools=tools,
)
