"""A worker's first agent run imports its provider's SDK in a thread, never on the
event loop: an import of several seconds there (anthropic on a loaded machine)
stalled every run of the worker past its lease, and the run was claimed again and
its model call paid twice.

Checked in a fresh interpreter, where no SDK is imported yet: an import hook
notes the thread each SDK's package is imported on, while an embedded worker
runs an Anthropic agent and an OpenAI agent against the fake servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from toolkit.processes import SRC

SCRIPT = """
import asyncio, json, sys, threading

imported_on = {}


class NoteThread:
    def find_spec(self, name, path=None, target=None):
        if name in ("anthropic", "openai"):
            imported_on[name] = threading.current_thread() is threading.main_thread()
        return None


sys.meta_path.insert(0, NoteThread())

from polos import Agent, Polos
from polos.testing import FakeAnthropicServer, FakeOpenAIServer, Turn


async def main(db):
    with FakeAnthropicServer([Turn.reply("from claude")]) as claude_llm, FakeOpenAIServer(
        [Turn.reply("from gpt")]
    ) as gpt_llm:
        claude = Agent(id="sdkload_claude", provider="anthropic", model="m",
                       provider_base_url=claude_llm.base_url, api_key="k")
        gpt = Agent(id="sdkload_gpt", provider="openai", model="m",
                    provider_base_url=gpt_llm.base_url, api_key="k")
        async with Polos(database_url=db, workflows=[claude, gpt]) as polos:
            texts = [(await claude.run(polos, "hi", timeout=120)).text,
                     (await gpt.run(polos, "hi", timeout=120)).text]
    print(json.dumps({"texts": texts, "on_main_thread": imported_on}))


asyncio.run(main(sys.argv[1]))
"""


def test_a_first_agent_run_imports_its_sdk_off_the_event_loop(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path}/polos.db"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("POLOS_")},
            "PYTHONPATH": str(SRC),
        },
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["texts"] == ["from claude", "from gpt"]
    # Imported, and each on a thread other than the one running the event loop.
    assert report["on_main_thread"] == {"anthropic": False, "openai": False}
