"""OpenTelemetry spans, received by a real OTLP/HTTP receiver on 127.0.0.1.

The worker exports through the OTLP/HTTP exporter because
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` points at the receiver; stopping it
flushes. Checked: names, attributes and parent links for a workflow with a
child (the child's run span hangs under the parent's step that started it,
through the trace context stored with the child run), for an agent with a
tool (the real openai SDK against the fake server), and that steps replayed
on a later attempt emit no span again. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

import agent_defs as defs
from polos import BatchWorkflowInput, Polos, PolosClient, WorkflowContext, workflow
from polos.engine.tracing import Span
from polos.observability.tracing import current_traceparent
from polos.runtime.client import store_of
from polos.testing import FakeOpenAIServer, FakeToolCall, Turn
from server_kit import serving
from toolkit.otlp import OtlpReceiver, ReceivedSpan
from toolkit.processes import WorkerProcess


class Order(BaseModel):
    n: int


@workflow(id="tr_child")
async def tr_child(ctx: WorkflowContext, payload: Order) -> int:
    return await ctx.step.run("square", lambda n: n * n, payload.n)  # type: ignore[no-any-return]


@workflow(id="tr_parent")
async def tr_parent(ctx: WorkflowContext, payload: Order) -> int:
    with ctx.step.trace("prepare", {"order.size": payload.n}) as span:
        span.set_attribute("prepared", True)
    doubled: int = await ctx.step.run("double", lambda n: n * 2, payload.n)
    squared: int = await ctx.step.invoke_and_wait("kid", tr_child, Order(n=doubled))
    return squared


@workflow(id="tr_remote_parent")
async def tr_remote_parent(ctx: WorkflowContext) -> int:
    # The child is served only by another process (tests/trace_workflows.py).
    tripled: int = await ctx.step.invoke_and_wait("remote", "tr_remote_child", {"n": 5})
    return tripled


@workflow(id="tr_untraced")
async def tr_untraced(ctx: WorkflowContext) -> str:
    with ctx.step.trace("local") as span:
        span.set_attribute("k", 1)
    return type(span).__name__


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


@pytest.fixture
def otlp(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> OtlpReceiver:
    """Listed before ``polos``: the worker reads the variable when it starts."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "polos-tests")
    receiver.clear()
    return receiver


def of_run(spans: list[ReceivedSpan], execution_id: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.attributes.get("polos.execution_id") == execution_id]


async def test_a_workflow_and_its_child_form_one_linked_trace(
    otlp: OtlpReceiver, polos: Polos
) -> None:
    handle = await polos.invoke(tr_parent.id, {"n": 3})
    assert await handle.result(timeout=20) == 36
    await polos.stop()  # flushes the exporter

    parents = otlp.named("workflow.tr_parent")
    # The wait for the child parks the run (the fixture holds nothing in memory):
    # two attempts, two run spans, one trace whose id is the run's id.
    assert sorted(s.attributes["polos.attempt"] for s in parents) == [1, 2]
    first = next(s for s in parents if s.attributes["polos.attempt"] == 1)
    second = next(s for s in parents if s.attributes["polos.attempt"] == 2)
    assert first.trace_id == uuid.UUID(handle.id).hex
    assert {s.trace_id for s in otlp.spans} == {first.trace_id}
    assert first.parent_span_id == second.parent_span_id == ""
    assert first.service == "polos-tests"
    assert first.attributes["polos.workflow_id"] == "tr_parent"
    assert first.attributes["polos.execution_id"] == handle.id

    # ctx.step.trace runs again with the code on attempt 2: marked as a replay.
    prepares = {s.parent_span_id: s for s in otlp.named("prepare")}
    assert prepares[first.span_id].attributes == {"order.size": 3, "prepared": True}
    assert prepares[second.span_id].attributes["polos.replay"] is True
    double = otlp.one("step.double")  # replayed on attempt 2: no second span
    assert double.parent_span_id == first.span_id
    assert double.attributes["polos.step.kind"] == "run"
    assert double.attributes["polos.step.function"] == "tr_parent.<locals>.<lambda>"

    wait = otlp.one("children.kid")
    assert wait.parent_span_id == first.span_id
    assert wait.attributes.get("polos.unwound") == "Suspended"  # parked, not failed
    child = otlp.one("workflow.tr_child")
    assert child.parent_span_id == wait.span_id, "the child hangs under the step that started it"
    assert child.attributes["polos.parent_execution_id"] == handle.id
    assert child.attributes["polos.root_execution_id"] == handle.id
    square = otlp.one("step.square")
    assert square.parent_span_id == child.span_id
    assert all(s.status_code != 2 for s in otlp.spans)


async def test_an_agent_call_with_a_tool_in_genai_terms(otlp: OtlpReceiver, polos: Polos) -> None:
    with FakeOpenAIServer() as llm:
        defs.point_agents_at(llm.base_url)
        llm.add_turns(
            Turn.calls(FakeToolCall("check_inventory", {"sku": "A1", "quantity": 2})),
            Turn.reply("In stock"),
        )
        result = await defs.shopper.run(polos, "Is A1 in stock?", timeout=30)
        assert result.result == "In stock"
        await polos.stop()

    [agent, *_, last] = sorted(
        otlp.named("agent.ag_shopper"), key=lambda s: s.attributes["polos.attempt"]
    )
    # The attempt that finishes the agent carries its totals.
    assert last.attributes["gen_ai.usage.input_tokens"] == 20
    assert last.attributes["gen_ai.usage.output_tokens"] == 40
    assert last.attributes["polos.agent.llm_calls"] == 2
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "ag_shopper"
    assert agent.trace_id == uuid.UUID(result.execution_id).hex

    chats = [s for s in otlp.spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2, otlp.names()
    steps = {s.span_id: s for s in otlp.spans if s.name.startswith("step.llm_")}
    for chat in chats:
        assert chat.name == f"chat {chat.attributes['gen_ai.request.model']}"
        assert chat.kind == 3  # SPAN_KIND_CLIENT
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.usage.input_tokens"] == 10
        assert chat.attributes["gen_ai.usage.output_tokens"] == 20
        assert chat.parent_span_id in steps, "each LLM call sits in the step recording it"
    reasons = sorted(c.attributes["gen_ai.response.finish_reasons"][0] for c in chats)
    assert reasons == ["stop", "tool_calls"]
    calling = next(
        c for c in chats if c.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    )
    assert calling.attributes["polos.llm.tool_calls"] == ["check_inventory"]

    tool = otlp.one("tool.check_inventory")
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "check_inventory"
    assert tool.attributes["polos.parent_execution_id"] == result.execution_id
    tools_step = otlp.one("children.tools_1")
    assert tool.parent_span_id == tools_step.span_id
    assert tool.trace_id == agent.trace_id
    assert {s.trace_id for s in of_run(otlp.spans, result.execution_id)} == {agent.trace_id}


async def test_a_guardrail_check_is_a_span(otlp: OtlpReceiver, polos: Polos) -> None:
    with FakeOpenAIServer() as llm:
        defs.point_agents_at(llm.base_url)
        llm.add_turns(Turn.reply("all good"))
        result = await defs.careful.run(polos, "hello", timeout=30)
        assert result.result == "all good"
        await polos.stop()
    [rail] = [s for s in otlp.spans if s.name.startswith("guardrail ")]
    assert rail.name == "guardrail no_bad_words"
    assert rail.attributes["polos.guardrail.passed"] is True
    assert otlp.one("step.1.guardrail.no_bad_words.0").parent_span_id == rail.span_id


async def test_without_otlp_settings_nothing_is_traced(
    polos: Polos, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert polos.worker.tracer is None  # type: ignore[attr-defined]
    handle = await polos.invoke(tr_untraced.id)
    assert await handle.result(timeout=20) == Span.__name__


async def test_a_run_started_inside_a_traced_request_joins_its_trace(
    otlp: OtlpReceiver, polos: Polos
) -> None:
    from polos.observability import tracer_from_env

    tracer = tracer_from_env()
    assert tracer is not None
    with tracer.tracer.start_as_current_span("POST /orders") as request:
        handle = await polos.invoke(tr_child.id, {"n": 4})
    assert await handle.result(timeout=20) == 16
    await polos.stop()
    request_context = request.get_span_context()
    run = otlp.one("workflow.tr_child")
    assert run.trace_id == f"{request_context.trace_id:032x}"
    assert run.parent_span_id == f"{request_context.span_id:016x}"


async def test_a_run_invoked_through_a_remote_client_joins_the_callers_trace(
    otlp: OtlpReceiver, polos: Polos, database_url: str
) -> None:
    """``PolosClient(api_url=...)`` sends the current span's traceparent; the server
    stores it with the runs (one and a batch), so they hang under the caller's span."""
    from polos.observability import tracer_from_env

    tracer = tracer_from_env()
    assert tracer is not None
    store = await store_of(polos)
    async with serving(database_url) as s:
        remote = PolosClient(api_url=s.url)
        try:
            with tracer.tracer.start_as_current_span("POST /checkout") as request:
                sent = current_traceparent()
                one = await remote.invoke(tr_child.id, {"n": 5})
                [two] = await remote.batch_invoke(
                    [BatchWorkflowInput(id=tr_child.id, payload={"n": 2})]
                )
            untraced = await remote.invoke(tr_child.id, {"n": 1})
            assert await remote.wait_for_result(one.id, timeout=20) == 25
            assert await remote.wait_for_result(two.id, timeout=20) == 4
            assert await remote.wait_for_result(untraced.id, timeout=20) == 1
        finally:
            await remote.close()
    rows = {run.id: await store.get_execution(run.id) for run in (one, two, untraced)}
    await polos.stop()  # flushes the exporter
    caller = request.get_span_context()
    trace_id, span_id = f"{caller.trace_id:032x}", f"{caller.span_id:016x}"
    for run in (one, two):
        row = rows[run.id]
        assert row is not None and row.trace_context == sent
        assert sent is not None and sent.startswith(f"00-{trace_id}-{span_id}-")
        [span] = of_run(otlp.named("workflow.tr_child"), run.id)
        assert (span.trace_id, span.parent_span_id) == (trace_id, span_id)
    row = rows[untraced.id]
    assert row is not None and row.trace_context is None  # no span: a trace of its own
    [alone] = of_run(otlp.named("workflow.tr_child"), untraced.id)
    assert alone.trace_id == uuid.UUID(untraced.id).hex and alone.parent_span_id == ""


async def test_the_run_routes_store_the_callers_traceparent(
    polos: Polos, database_url: str
) -> None:
    """Over plain HTTP: Polos's body field ``otel_traceparent``, else the W3C
    ``traceparent`` header; one that does not parse is ignored (the run is not refused)."""
    store = await store_of(polos)
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    field = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with serving(database_url) as s:
        by_header = await s.http.post(
            f"/api/v1/workflows/{tr_child.id}/run",
            json={"payload": {"n": 1}},
            headers={"traceparent": header},
        )
        by_field = await s.http.post(
            "/api/v1/workflows/batch_run",
            json={
                "workflows": [{"workflow_id": tr_child.id, "payload": {"n": 2}}],
                "otel_traceparent": field,
            },
            headers={"traceparent": header},  # the body's wins
        )
        bad = await s.http.post(
            f"/api/v1/workflows/{tr_child.id}/run",
            json={"payload": {"n": 3}, "otel_traceparent": "not-a-traceparent"},
        )
    stored = {}
    for name, response in (("header", by_header), ("field", by_field), ("bad", bad)):
        assert response.status_code == 200, response.text
        body = response.json()
        run_id = (
            body["executions"][0]["execution_id"] if "executions" in body else body["execution_id"]
        )
        row = await store.get_execution(run_id)
        assert row is not None
        stored[name] = row.trace_context
    assert stored == {"header": header, "field": field, "bad": None}


async def test_a_child_run_in_another_process_joins_the_parents_trace(
    otlp: OtlpReceiver, database_url: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        database_url,
        tmp_path / "steps.log",
        modules="trace_workflows",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp.endpoint,
        OTEL_SERVICE_NAME="polos-child-process",
    )
    try:
        async with Polos(database_url=database_url, workflows=[tr_remote_parent]) as polos:
            handle = await polos.invoke(tr_remote_parent.id)
            assert await handle.result(timeout=20) == 15
    finally:
        worker.stop()  # flushes its spans
    step = otlp.one("children.remote")
    assert step.service == "polos-tests"
    child = otlp.one("workflow.tr_remote_child")
    assert child.service == "polos-child-process", "run by the other process"
    assert (child.trace_id, child.parent_span_id) == (step.trace_id, step.span_id)
    assert otlp.one("step.triple").parent_span_id == child.span_id


def test_a_collector_outage_is_not_a_warning_per_retry() -> None:
    import logging

    from polos.observability.otel import OncePerInterval

    once = OncePerInterval(interval=60)

    def record(template: str, arg: str) -> logging.LogRecord:
        return logging.LogRecord("otlp", logging.WARNING, "", 0, template, (arg,), None)

    retry = "Transient error %s encountered while exporting spans batch"
    assert once.filter(record(retry, "refused"))
    assert not once.filter(record(retry, "refused again"))  # same message, same minute
    assert once.filter(record("Failed to export %s batch", "spans"))  # another message
    quick = OncePerInterval(interval=0)
    assert quick.filter(record(retry, "a")) and quick.filter(record(retry, "b"))
