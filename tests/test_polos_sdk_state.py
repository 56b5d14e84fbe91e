"""What Polos's SDK registers and keeps on the orchestrator, against ``polos server``.

HTTP calls in the shapes polos-sdk 0.1.15 sends them (runtime/worker.py,
features/schedules.py, features/tracing.py, memory/session_memory.py; the
conversation routes are @polos/sdk's): agent, tool and event-trigger
registration, schedules that fire from the server, spans and the trace API,
session memory shared with our own agents, conversation history. Both backends.

The end-to-end test at the bottom runs the real SDK: an agent with a tool in an
SDK worker against our fake model server, a scheduled SDK workflow and an
event-triggered one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import agent_defs as defs
from polos import Polos, PolosClient
from polos.agents.memory import COMPACTION, MESSAGES, load_session, session_topic
from polos.agents.providers.types import Message, ToolCall, ToolResult
from polos.store import NewExecution, ServedWorkflow
from polos.testing import FakeOpenAIServer, Turn
from polos.types import EventData
from sdk_kit import SdkWorkers, ServerProcess
from server_kit import Served, serving, until

pytestmark = pytest.mark.slow

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def _executions(s: Served, workflow_id: str) -> list[Any]:
    return await s.state.store.list_executions(workflow_id=workflow_id)


# registration -----------------------------------------------------------------------------
async def test_agents_and_tools_an_sdk_worker_registers_are_listed(database_url: str) -> None:
    async with serving(database_url) as s:
        agent = {
            "id": "weather_agent",
            "deployment_id": "dep-1",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "system_prompt": "You tell the weather.",
            "tools": [WEATHER_TOOL],
            "temperature": 0.2,
            "max_output_tokens": 500,
            "metadata": {"stop_conditions": ["max_steps"]},
        }
        r = await s.http.post("/api/v1/agents/register", json=agent)
        assert r.status_code == 200 and r.json() == {"success": True}
        tool = {
            "id": "get_weather",
            "deployment_id": "dep-1",
            "tool_type": "default",
            "description": "The weather in a city",
            "parameters": WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
            "metadata": None,
        }
        r = await s.http.post("/api/v1/tools/register", json=tool)
        assert r.status_code == 200 and r.json() == {"success": True}
        # Then the SDK registers each in its deployment, with no description: it stays.
        await s.state.store.register_workflows(
            [
                ServedWorkflow("weather_agent", "weather_agent", "agent", "dep-1"),
                ServedWorkflow("get_weather", "get_weather", "tool", "dep-1"),
            ],
            time.time(),
        )

        [listed] = (await s.http.get("/api/v1/agents")).json()
        assert {k: listed[k] for k in agent if k != "metadata"} == {
            k: v for k, v in agent.items() if k != "metadata"
        }
        assert listed["metadata"] == {"stop_conditions": ["max_steps"]}
        one = (await s.http.get("/api/v1/agents/weather_agent")).json()
        assert one["model"] == "gpt-4o-mini" and one["tools"] == [WEATHER_TOOL]
        [tool_listed] = (await s.http.get("/api/v1/tools")).json()
        assert tool_listed["id"] == "get_weather" and tool_listed["tool_type"] == "default"
        assert tool_listed["parameters"] == tool["parameters"]
        assert tool_listed["description"] == "The weather in a city"
        # The workflow list knows them as what they are.
        assert await s.state.store.known_workflows(["weather_agent", "get_weather"]) == {
            "weather_agent",
            "get_weather",
        }

        # Bad input: what was wrong, by field.
        r = await s.http.post("/api/v1/agents/register", json={"id": "x", "provider": "openai"})
        assert r.status_code == 422 and "model" in r.json()["error"]
        r = await s.http.post("/api/v1/tools/register", json={"id": ""})
        assert r.status_code == 422 and "id" in r.json()["error"]


async def test_an_event_trigger_registered_by_an_sdk_worker_starts_runs(database_url: str) -> None:
    async with serving(database_url) as s:
        trigger = {
            "workflow_id": "on_order",
            "deployment_id": "dep-1",
            "event_topic": "orders",
            "batch_size": 1,
            "batch_timeout_seconds": None,
            "queue_name": "on_order",
        }
        r = await s.http.post("/api/v1/event-triggers/register", json=trigger)
        assert r.status_code == 200 and r.json() == {}
        [row] = await s.state.store.list_triggers()
        assert (row.workflow_id, row.topic, row.batch_size) == ("on_order", "orders", 1)

        published = await s.http.post(
            "/api/v1/events/publish",
            json={"topic": "orders", "events": [{"event_type": "new", "data": {"order": 7}}]},
        )
        assert published.status_code == 200
        # The server fires the trigger itself (no worker of ours runs here): one run.
        [run] = await until(lambda: _executions(s, "on_order"))
        assert run.status == "queued"
        got = await s.http.get(f"/api/v1/executions/{run.id}")
        payload = got.json()["payload"]
        assert payload["topic"] == "orders" and payload["data"] == {"order": 7}

        r = await s.http.post(
            "/api/v1/event-triggers/register", json={**trigger, "event_topic": ""}
        )
        assert r.status_code == 422 and "event_topic" in r.json()["error"]


async def test_schedules_in_the_sdk_shape_fire_from_the_server(database_url: str) -> None:
    async with serving(database_url) as s:
        # The SDK worker registers the workflow in its deployment first, then its schedule.
        await s.state.store.register_workflows(
            [ServedWorkflow("tick", "tick", "workflow", "dep-1")], time.time()
        )
        body = {"workflow_id": "tick", "cron": "* * * * * *", "timezone": "UTC", "key": "global"}
        r = await s.http.post("/api/v1/schedules", json=body)
        assert r.status_code == 200
        schedule_id = r.json()["schedule_id"]
        [listed] = (await s.http.get("/api/v1/schedules/workflows/tick")).json()["schedules"]
        assert listed["id"] == schedule_id and listed["cron"] == "* * * * * *"
        assert listed["status"] == "active" and listed["next_run_at"]
        assert (await s.http.get("/api/v1/schedules/workflows")).json() == {
            "workflow_ids": ["tick"]
        }
        # Every second; the server's own timer loop starts the run (no worker here).
        runs = await until(lambda: _executions(s, "tick"), timeout=30)
        assert runs[0].schedule_id == schedule_id
        assert runs[0].queue_name == ""  # the dispatcher assigns it when it hands the run out

        r = await s.http.post("/api/v1/schedules", json={**body, "workflow_id": "nobody"})
        assert r.status_code == 404 and "nobody" in r.json()["error"]
        r = await s.http.post("/api/v1/schedules", json={**body, "cron": "every day"})
        assert r.status_code == 422 and "cron" in r.json()["error"]


# spans and traces -------------------------------------------------------------------------
def _span(trace_id: str, span_id: str, parent: str | None, name: str, **kw: Any) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "span_type": name.split(".", 1)[0],
        "attributes": {"workflow.id": "order"},
        "events": None,
        "input": None,
        "output": None,
        "error": None,
        "initial_state": None,
        "final_state": None,
        "started_at": "2026-11-30T10:00:00.000000Z",
        "ended_at": "2026-11-30T10:00:02.500000Z",
        **kw,
    }


async def test_spans_an_sdk_worker_exports_are_served_as_traces(database_url: str) -> None:
    async with serving(database_url) as s:
        run_id = await s.state.client.store.create_execution(
            NewExecution(
                id=str(uuid.uuid4()), workflow_id="order", payload="null", created_at=time.time()
            )
        )
        trace_id = uuid.UUID(run_id).hex
        root = _span(trace_id, "a" * 16, None, "workflow.order", input={"n": 1}, ended_at=None)
        step = _span(
            trace_id,
            "b" * 16,
            "a" * 16,
            "step.charge",
            output={"ok": True},
            started_at="2026-11-30T10:00:01+00:00",
        )
        r = await s.http.post("/internal/spans/batch", json={"spans": [root, step]})
        assert r.status_code == 200
        # The SDK sends the root again once it ends.
        ended = {**root, "output": {"total": 3}, "ended_at": "2026-11-30T10:00:02.5Z"}
        r = await s.http.post("/internal/spans/batch", json={"spans": [ended]})
        assert r.status_code == 200

        trace = (await s.http.get(f"/api/v1/traces/{trace_id}")).json()
        assert trace["trace_id"] == trace_id and trace["span_count"] == 2
        assert trace["status"] == "queued" and trace["root_span_name"] == "workflow.order"
        assert [x["name"] for x in trace["spans"]] == ["workflow.order", "step.charge"]
        assert trace["spans"][0]["output"] == {"total": 3}
        assert trace["spans"][1]["parent_span_id"] == "a" * 16
        assert trace["spans"][1]["attributes"] == {"workflow.id": "order"}
        assert trace["trace_start_time"].startswith("2026-11-30T10:00:00")
        # By the run's id too (with its dashes).
        assert (await s.http.get(f"/api/v1/traces/{run_id}")).json()["span_count"] == 2

        [listed] = (await s.http.get("/api/v1/traces")).json()["traces"]
        assert listed["trace_id"] == trace_id and listed["root_span_type"] == "workflow"
        assert listed["input"] == {"n": 1} and listed["output"] == {"total": 3}
        assert listed["status"] == "queued" and listed["duration_ms"] == 2500
        assert (await s.http.get("/api/v1/traces?has_error=true")).json() == {"traces": []}

        missing = await s.http.get(f"/api/v1/traces/{uuid.uuid4().hex}")
        assert missing.status_code == 404 and "no spans" in missing.json()["error"]
        bad = await s.http.post(
            "/internal/spans/batch", json={"spans": [{**root, "trace_id": "x"}]}
        )
        assert bad.status_code == 422 and "32 hexadecimal" in bad.json()["error"]


# session memory and conversation history --------------------------------------------------
async def test_session_memory_is_shared_with_our_agents(database_url: str) -> None:
    async with serving(database_url) as s:
        url = "/internal/session/chat%2F42/memory"  # the SDK percent-encodes the id
        assert (await s.http.get(url)).json() == {"summary": None, "messages": []}

        # An SDK agent's run stores what it saw and said (its normalized items).
        items: list[dict[str, Any]] = [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Let me check."},
            {
                "type": "function_call",
                "name": "get_weather",
                "call_id": "call_1",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": '"sunny"'},
            {"role": "assistant", "content": "Sunny."},
        ]
        r = await s.http.put(url, json={"summary": None, "messages": items})
        assert r.status_code == 200
        assert (await s.http.get(url)).json() == {"summary": None, "messages": items}

        # Our agents read the same session from our memory log...
        store = s.state.store
        memory = await load_session(store, "chat/42")
        assert memory.messages == [
            Message.user("Weather in Paris?"),
            Message(
                role="assistant",
                content="Let me check.",
                tool_calls=[ToolCall.from_raw("call_1", "get_weather", '{"city": "Paris"}')],
            ),
            Message(
                role="tool", tool_results=[ToolResult(tool_call_id="call_1", content='"sunny"')]
            ),
            Message(role="assistant", content="Sunny."),
        ]
        # ... and what our agent adds next, the SDK reads back in its own form.
        await s.state.client.batch_publish(
            session_topic("chat/42"),
            [
                EventData(
                    event_type=MESSAGES,
                    data={
                        "messages": [Message.user("And Rome?"), Message.assistant("Rainy.")],
                        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
                    },
                )
            ],
        )
        got = (await s.http.get(url)).json()
        assert got["messages"] == [
            *items,
            {"role": "user", "content": "And Rome?"},
            {"role": "assistant", "content": "Rainy."},
        ]

        # A compaction by the SDK (a summary and the recent messages) starts afresh.
        recent = [{"role": "assistant", "content": "Rainy."}]
        await s.http.put(url, json={"summary": "Paris sunny, Rome asked.", "messages": recent})
        assert (await s.http.get(url)).json() == {
            "summary": "Paris sunny, Rome asked.",
            "messages": recent,
        }
        memory = await load_session(store, "chat/42")
        assert memory.messages[0].role == "system" and "Paris sunny" in memory.messages[0].content
        assert memory.messages[1:] == [Message.assistant("Rainy.")]
        rows = await store.read_events(session_topic("chat/42"), 0)
        assert [r.event_type for r in rows] == [COMPACTION, MESSAGES, COMPACTION]

        r = await s.http.put(url, json={"summary": 5, "messages": []})
        assert r.status_code == 422 and "summary" in r.json()["error"]


async def test_conversation_history_keeps_the_latest_messages(database_url: str) -> None:
    async with serving(database_url) as s:
        add = "/internal/conversation/conv-1/add"
        for i in range(4):
            r = await s.http.post(
                add,
                json={
                    "agent_id": "helper",
                    "role": "user" if i % 2 == 0 else "assistant",
                    "content": f"message {i}",
                    "agent_run_id": None,
                    "conversation_history_limit": 3,
                },
            )
            assert r.status_code == 200
        await s.http.post(add, json={"agent_id": "other", "role": "user", "content": "hi"})

        got = (await s.http.get("/api/v1/conversation/conv-1/get?agent_id=helper")).json()
        assert [m["content"] for m in got["messages"]] == ["message 1", "message 2", "message 3"]
        first = got["messages"][0]
        assert first["conversation_id"] == "conv-1" and first["agent_id"] == "helper"
        assert first["role"] == "assistant" and first["created_at"]
        limited = await s.http.get("/api/v1/conversation/conv-1/get?agent_id=helper&limit=1")
        assert [m["content"] for m in limited.json()["messages"]] == ["message 3"]
        other = await s.http.get("/api/v1/conversation/conv-1/get?agent_id=other")
        assert [m["content"] for m in other.json()["messages"]] == ["hi"]

        r = await s.http.get("/api/v1/conversation/conv-1/get")
        assert r.status_code == 422 and "agent_id" in r.json()["error"]
        r = await s.http.post(add, json={"role": "user", "content": "x"})
        assert r.status_code == 422 and "agent_id" in r.json()["error"]


# sessions, and one session carried on by both kinds of agent ------------------------------
@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        defs.point_agents_at(server.base_url)
        yield server


async def test_our_agent_carries_on_a_session_an_sdk_agent_began(
    polos: Polos, llm: FakeOpenAIServer, database_url: str
) -> None:
    async with serving(database_url) as s:
        sdk_items = [
            {"role": "user", "content": "My name is Ada"},
            {"type": "function_call", "name": "lookup", "call_id": "c1", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "found"},
            {"role": "assistant", "content": "Hi Ada"},
        ]
        await s.http.put(
            "/internal/session/s-mixed/memory",
            json={"summary": "An earlier chat.", "messages": sdk_items},
        )
        llm.add_turns(Turn.reply("You are Ada"))
        result = await defs.plain.run(polos, "Who am I?", session_id="s-mixed", timeout=30)
        assert result.text == "You are Ada"
        sent: list[dict[str, Any]] = llm.requests[0].body["messages"]  # type: ignore[assignment]
        assert sent[0]["content"].endswith("An earlier chat.")
        assert [m.get("content") for m in sent[-3:]] == ["found", "Hi Ada", "Who am I?"]
        assert sent[2]["tool_calls"][0]["id"] == "c1" and sent[3]["tool_call_id"] == "c1"
        # The SDK's next run sees our agent's turn after its own.
        got = (await s.http.get("/internal/session/s-mixed/memory")).json()
        assert got["summary"] == "An earlier chat."
        assert got["messages"] == [
            *sdk_items,
            {"role": "user", "content": "Who am I?"},
            {"role": "assistant", "content": "You are Ada"},
        ]


async def test_sessions_list_agent_runs_grouped_by_session(
    polos: Polos, llm: FakeOpenAIServer, database_url: str
) -> None:
    defs.TOOL_CALLS.clear()
    llm.add_turns(
        Turn.call("check_inventory", {"sku": "A1", "quantity": 2}),
        Turn.reply("A1 is in stock"),
        Turn.reply("Anything else?"),
        Turn.reply("Alone"),
    )
    first = await defs.shopper.run(polos, "Is A1 in stock?", session_id="shop-1", timeout=30)
    second = await defs.shopper.run(polos, "Thanks", session_id="shop-1", timeout=30)
    alone = await defs.plain.run(polos, "Hello", timeout=30)
    async with serving(database_url) as s:
        listed = (await s.http.get("/api/v1/sessions")).json()["sessions"]
        assert [(x["session_id"], x["execution_count"]) for x in listed] == [
            (None, 1),
            ("shop-1", 2),
        ]
        shop = listed[1]
        assert shop["execution_id"] == second.agent_run_id and shop["agent_id"] == "ag_shopper"
        assert shop["status"] == "completed" and shop["tool_call_count"] == 1
        assert shop["user_message_preview"] == "Is A1 in stock?"
        assert shop["total_tokens"] == 3 * 30
        assert listed[0]["execution_id"] == alone.agent_run_id
        only = await s.http.get("/api/v1/sessions?agent_id=ag_shopper&limit=1")
        assert [x["execution_id"] for x in only.json()["sessions"]] == [second.agent_run_id]

        detail = (await s.http.get(f"/api/v1/sessions/{first.agent_run_id}")).json()
        assert detail["session_id"] == "shop-1" and detail["status"] == "completed"
        assert [(e["entry_type"], e["data"].get("content")) for e in detail["timeline"]] == [
            ("user_message", "Is A1 in stock?"),
            ("tool_call", None),
            ("assistant_message", "A1 is in stock"),
            ("user_message", "Thanks"),
            ("assistant_message", "Anything else?"),
        ]
        assert detail["timeline"][1]["data"]["tool_name"] == "check_inventory"
        assert detail["total_tokens"] == 90 and detail["tool_call_count"] == 1
        missing = await s.http.get(f"/api/v1/sessions/{uuid.uuid4()}")
        assert missing.status_code == 404


# the real SDK: an agent with a tool, its session and spans, and a scheduled workflow ------
#: polos-sdk's ``openai`` extra, at the version we pin ourselves.
SDK_OPENAI = "openai==2.54.0"


@pytest.fixture(scope="session")
def sdk_openai(sdk_python: Path) -> Path:
    """The SDK's virtualenv with the OpenAI SDK its OpenAI provider imports."""
    if subprocess.run([str(sdk_python), "-c", "import openai"], capture_output=True).returncode:
        done = subprocess.run(
            [str(sdk_python), "-m", "pip", "install", "--quiet", SDK_OPENAI],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            reason = f"could not install {SDK_OPENAI} beside polos-sdk: {done.stderr[-500:]}"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
    return sdk_python


async def test_an_sdk_agent_and_a_scheduled_sdk_workflow_on_our_server(
    sdk_openai: Path, sdk_workers: SdkWorkers, polos_server: ServerProcess, tmp_path: Path
) -> None:
    with FakeOpenAIServer() as fake_llm:
        fake_llm.add_turns(
            Turn.call("sdks_weather", {"city": "Paris"}), Turn.reply("Sunny in Paris")
        )
        sdk_workers.start(
            "sdk_state_worker.py",
            deployment_id="dep-state",
            extra={
                "SDK_TEST_DIR": str(tmp_path),
                "OPENAI_BASE_URL": fake_llm.base_url,
                "OPENAI_API_KEY": "test",
            },
        )
        async with (
            httpx.AsyncClient(base_url=polos_server.url, timeout=30) as http,
            PolosClient(database_url=polos_server.database_url) as client,
        ):
            # What the worker registered: its agent with its tool, and the tool.
            [agent] = [a for a in (await http.get("/api/v1/agents")).json()]
            assert agent["id"] == "sdks_forecaster" and agent["deployment_id"] == "dep-state"
            assert agent["model"] == "gpt-4o-mini" and agent["provider"] == "openai"
            assert [t["function"]["name"] for t in agent["tools"]] == ["sdks_weather"]
            [tool] = (await http.get("/api/v1/tools")).json()
            assert tool["id"] == "sdks_weather"
            assert tool["parameters"]["properties"]["city"]["type"] == "string"

            started = await http.post(
                "/api/v1/workflows/sdks_forecaster/run",
                json={
                    "payload": {"input": "Weather in Paris?", "streaming": False},
                    "session_id": "sdk-chat",
                },
            )
            assert started.status_code == 200, started.text
            run_id = started.json()["execution_id"]

            async def finished() -> Any:
                row = await client.store.get_execution(run_id)
                return row if row is not None and row.status in ("completed", "failed") else None

            row = await until(finished, 90)
            got = (await http.get(f"/api/v1/executions/{run_id}")).json()
            assert row.status == "completed", (got.get("error"), got.get("result"))
            assert got["result"]["result"] == "Sunny in Paris"
            assert [t["tool_name"] for t in got["result"]["tool_results"]] == ["sdks_weather"]
            # The model saw the tool's answer.
            tool_turn = json.dumps(fake_llm.requests[1].body)
            assert "sunny" in tool_turn and "Paris" in tool_turn

            # The conversation is stored in the session, readable by the SDK and by our agents.
            memory = (await http.get("/internal/session/sdk-chat/memory")).json()
            assert memory["messages"][0] == {"role": "user", "content": "Weather in Paris?"}
            assert memory["messages"][-1] == {"role": "assistant", "content": "Sunny in Paris"}
            assert any(m.get("type") == "function_call" for m in memory["messages"])
            ours = await load_session(client.store, "sdk-chat")
            assert ours.messages[0] == Message.user("Weather in Paris?")
            assert ours.messages[-1] == Message.assistant("Sunny in Paris")
            # The session lists the run.
            [session] = (await http.get("/api/v1/sessions")).json()["sessions"]
            assert session["execution_id"] == run_id and session["session_id"] == "sdk-chat"

            # Its spans reach the trace API (the SDK exports them in batches). The agent's
            # span is in the run's trace (its id without dashes), unless the SDK started it
            # under the worker's own HTTP request span (FastAPI's built-in telemetry, once
            # the SDK's tracer is up): then it is in that request's trace.
            trace_id = uuid.UUID(run_id).hex

            async def agent_span() -> Any:
                listed = (await http.get("/api/v1/traces?limit=1000")).json()["traces"]
                for t in sorted(listed, key=lambda t: t["trace_id"] != trace_id):
                    trace = (await http.get(f"/api/v1/traces/{t['trace_id']}")).json()
                    for span in trace["spans"]:
                        attributes = span["attributes"] or {}
                        if attributes.get("agent.execution_id") == run_id:
                            return trace, span
                return None

            trace, span = await until(agent_span, 60)
            assert span["name"] == "agent.sdks_forecaster" and span["ended_at"]
            if trace["trace_id"] == trace_id:
                assert trace["status"] == "completed"

            # The dashboard's trace draws the run tree from the store: the SDK agent's
            # steps, and its tool's run under the step that started it.
            page = (await http.get(f"/runs/{run_id}/trace")).text
            for shown in ("llm_generate:1", "execute_tools:step_1", "sdks_weather", trace_id):
                assert shown in page
            # Each run as what its worker registered it as; its LLM calls with model and tokens.
            assert page.count('<span class="span-kind">agent</span>') == 1
            assert page.count('<span class="span-kind">tool</span>') == 1
            assert "LLM call 1" in page and "LLM call 2" in page
            assert "gpt-4o-mini · 30 tokens (10 in, 20 out)" in page
            # The run's page tells its conversation: the tool called, its result, the answer.
            run_page = (await http.get(f"/runs/{run_id}")).text
            for shown in ("sdks_weather", "sunny", "Sunny in Paris"):
                assert shown in run_page

            # The scheduled workflow fires from the server and runs on the SDK worker.
            async def ticked() -> Any:
                runs = await client.store.list_executions(workflow_id="sdks_tick")
                return [r for r in runs if r.status == "completed"]

            [first, *_] = await until(ticked, 60)
            assert first.schedule_id == "sdks_tick:global"
            assert (tmp_path / "ticks.count").read_text().splitlines()[0] == "sdks_tick:global"

            # The event trigger it registered starts one run per event, which it runs.
            [trigger] = [t for t in await client.store.list_triggers() if t.topic == "sdks.orders"]
            assert trigger.workflow_id == "sdks_on_order"
            await http.post(
                "/api/v1/events/publish",
                json={"topic": "sdks.orders", "events": [{"data": {"order": 7}}]},
            )

            async def handled() -> Any:
                runs = await client.store.list_executions(workflow_id="sdks_on_order")
                return [r for r in runs if r.status == "completed"]

            [done] = await until(handled, 60)
            answer = (await http.get(f"/api/v1/executions/{done.id}")).json()["result"]
            assert answer == {"topic": "sdks.orders", "order": 7}


async def test_a_span_batch_may_exceed_the_body_limit(database_url: str) -> None:
    async with serving(database_url) as s:
        limit = s.settings.max_body_bytes
        trace_id = uuid.uuid4().hex
        big = _span(trace_id, "c" * 16, None, "agent.chatty", output="x" * (limit + 1))
        r = await s.http.post("/internal/spans/batch", json={"spans": [big]})
        assert r.status_code == 200, r.text
        got = (await s.http.get(f"/api/v1/traces/{trace_id}")).json()
        assert len(got["spans"][0]["output"]) == limit + 1
        huge = {**big, "output": "x" * (16 * limit)}
        r = await s.http.post("/internal/spans/batch", json={"spans": [huge]})
        assert r.status_code == 413
