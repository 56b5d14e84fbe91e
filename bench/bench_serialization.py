"""What storing and reading back a step's output costs, for typical agent values.

    .venv/bin/python bench/bench_serialization.py [--against OLD_SERIALIZATION_PY] [--rounds 2]

The values: an agent's result after five tool calls (a real one, from a run
against the fake model), and one model answer with a tool call. Prints
microseconds per ``serialization.dumps`` and per ``serialization.loads``.
``--against`` loads another version of ``polos/serialization.py`` beside this
one (for example ``git show <commit>:src/polos/serialization.py > /tmp/old.py``),
checks that both encode every value to the same text, and prints both, in
turns, so that an A/B sits in one process and one minute.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import tempfile
import timeit
from types import ModuleType
from typing import Any

from bench_agent_tools import ping, pinger
from polos import Polos, serialization
from polos.agents.providers.types import LLMResponse, ToolCall, Usage
from polos.testing import FakeOpenAIServer, Turn


async def agent_result() -> Any:
    turns = [Turn.call("ping", {"n": i}) for i in range(5)] + [Turn.reply("done")]
    with tempfile.TemporaryDirectory() as folder, FakeOpenAIServer(turns) as server:
        async with Polos(database_url=f"sqlite:///{folder}/s.db", workflows=[pinger, ping]) as p:
            pinger.provider_base_url, pinger._provider = server.base_url, None
            return await pinger.run(p, "go", timeout=60)


def model_answer() -> LLMResponse:
    return LLMResponse(
        tool_calls=[ToolCall(id="call_1", name="double", arguments={"n": 3})],
        usage=Usage(input_tokens=10, output_tokens=5),
        finish_reason="tool_calls",
        model="fleet",
        id="resp_1",
    )


def load_module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("polos._serialization_against", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_call_us(work: Any, number: int) -> float:
    return timeit.timeit(work, number=number) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", help="another polos/serialization.py to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--number", type=int, default=3000, help="calls per measure")
    args = parser.parse_args()
    values = {"agent result": asyncio.run(agent_result()), "model answer": model_answer()}
    modules: list[tuple[str, Any]] = [("this", serialization)]
    if args.against:
        other = load_module(args.against)
        for name, value in values.items():
            assert other.dumps(value) == serialization.dumps(value), f"{name}: encodings differ"
        modules.insert(0, ("against", other))
    print(f"{'value':14} {'version':8} {'bytes':>6} {'dumps us':>9} {'loads us':>9}")
    for name, value in values.items():
        text = serialization.dumps(value)
        for _ in range(args.rounds):
            for label, module in modules:
                dumps = per_call_us(lambda m=module, v=value: m.dumps(v), args.number)
                loads = per_call_us(lambda m=module, t=text: m.loads(t), args.number)
                print(f"{name:14} {label:8} {len(text):6} {dumps:9.1f} {loads:9.1f}")


if __name__ == "__main__":
    main()
