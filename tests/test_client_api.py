"""The client API: invoke, run, get_execution, handles, errors, and what ``ctx`` knows."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core_workflows import (
    OrderInput,
    OrderOutput,
    core_ctx_fields,
    core_echo,
    core_fails,
    core_inside,
    core_long_wait,
    core_no_payload,
    core_order,
    core_wait_string,
    core_wait_until,
)
from polos import (
    ExecutionCancelledError,
    ExecutionHandle,
    ExecutionInfo,
    ExecutionNotFoundError,
    InvalidPayloadError,
    Polos,
    PolosClient,
    PolosError,
    WorkflowFailedError,
    WorkflowTimeoutError,
    get_all_workflows,
    get_workflow,
)
from toolkit.waiting import wait_for_status

ORDER = {"order_id": "o-1", "quantity": 3, "placed_at": "2024-05-01T10:00:00+00:00"}


def events(info: ExecutionInfo) -> list[str]:
    return [h.event for h in info.history]


async def test_invoke_returns_a_handle_and_the_result_keeps_its_type(polos: Polos) -> None:
    before = datetime.now(UTC)
    handle = await core_order.invoke(polos, ORDER, session_id="sess-1", user_id="user-1")
    assert isinstance(handle, ExecutionHandle)
    assert handle.workflow_id == "core_order"
    assert handle.root_execution_id == handle.id and handle.root_workflow_id == "core_order"
    assert handle.parent_execution_id is None
    assert handle.session_id == "sess-1" and handle.user_id == "user-1"
    assert handle.created_at is not None
    assert before - timedelta(seconds=1) <= handle.created_at <= datetime.now(UTC)
    result = await handle.result(timeout=10)
    # the dict payload was validated into OrderInput; the model result came back typed
    assert result == OrderOutput(order_id="o-1", total=Decimal("7.50"), input_type="OrderInput")
    assert type(result) is OrderOutput


async def test_get_execution_of_a_completed_run(polos: Polos) -> None:
    handle = await core_order.invoke(polos, OrderInput(**ORDER), user_id="u")  # type: ignore[arg-type]
    await handle.result(timeout=10)
    info = await polos.get_execution(handle.id)
    assert info.id == info.execution_id == handle.id
    assert info.workflow_id == "core_order"
    assert info.status == "completed"
    assert isinstance(info.result, OrderOutput) and info.result.total == Decimal("7.50")
    assert info.error is None
    assert info.attempt == 1
    assert info.user_id == "u" and info.session_id is None
    assert info.root_execution_id == handle.id and info.parent_execution_id is None
    assert info.started_at is not None and info.completed_at is not None
    assert info.started_at <= info.completed_at <= info.updated_at
    assert info.created_at <= info.completed_at
    assert events(info) == ["created", "claimed", "completed"]
    assert [h.seq for h in info.history] == sorted(h.seq for h in info.history)
    assert (await handle.get()).status == "completed"


async def test_history_of_a_run_that_waits(polos: Polos) -> None:
    handle = await core_wait_string.invoke(polos, "200ms")
    waiting = await wait_for_status(polos, handle.id, "waiting")
    assert waiting.waiting_on == "nap"
    assert waiting.wake_at is not None and waiting.wake_at > waiting.created_at
    await handle.result(timeout=10)
    info = await handle.get()
    assert events(info) == ["created", "claimed", "waiting", "resumed", "claimed", "completed"]
    resumed = next(h for h in info.history if h.event == "resumed")
    assert resumed.detail == {"step_key": "nap", "by": "timer"}
    assert info.attempt == 2 and info.waiting_on is None and info.wake_at is None
    assert [(s.step_key, s.kind) for s in info.steps] == [("nap", "wait")]


async def test_failed_workflow_raises_workflow_failed_error(polos: Polos) -> None:
    handle = await core_fails.invoke(polos, 7)
    with pytest.raises(WorkflowFailedError) as err:
        await handle.result(timeout=10)
    assert err.value.execution_id == handle.id
    assert err.value.error["type"] == "ValueError"
    assert err.value.error["message"] == "boom 7"
    assert "ValueError: boom 7" in str(err.value)
    info = await polos.get_execution(handle.id)
    assert info.status == "failed"
    assert info.error is not None and info.error["type"] == "ValueError"
    assert info.error["message"] == "boom 7"
    assert info.result is None and info.completed_at is not None
    assert [s.step_key for s in info.steps] == ["ok_first"]  # steps before the failure stay
    assert events(info)[-1] == "failed"
    with pytest.raises(WorkflowFailedError):
        await core_fails.run(polos, 8, timeout=10)


async def test_run_timeout_leaves_the_execution_running(polos: Polos) -> None:
    started = time.monotonic()
    with pytest.raises(WorkflowTimeoutError) as err:
        await core_long_wait.run(polos, timeout=0.2)
    assert 0.15 <= time.monotonic() - started < 3
    execution_id = err.value.execution_id
    assert "0.2s" in str(err.value)
    # Still going: it reaches its wait (on a loaded machine, maybe after the timeout).
    info = await wait_for_status(polos, execution_id, "waiting")
    assert info.waiting_on == "long"
    with pytest.raises(WorkflowTimeoutError):
        await polos.wait_for_result(execution_id, timeout=0.05)
    await polos.cancel_execution(execution_id)


async def test_handle_cancel_stops_a_waiting_execution(polos: Polos) -> None:
    handle = await core_long_wait.invoke(polos)
    await wait_for_status(polos, handle.id, "waiting")
    assert await handle.cancel() is True
    with pytest.raises(ExecutionCancelledError) as err:
        await handle.result(timeout=5)
    assert err.value.execution_id == handle.id
    info = await handle.get()
    assert info.status == "cancelled" and info.completed_at is not None
    assert events(info)[-1] == "cancelled"
    assert info.history[-1].detail == {"previous_status": "waiting"}
    # cancelling again, or cancelling a finished execution, changes nothing
    assert await handle.cancel() is True
    done = await core_no_payload.invoke(polos)
    await done.result(timeout=10)
    assert await done.cancel() is False
    assert (await done.get())["status"] == "completed"


async def test_unknown_execution_id(polos: Polos) -> None:
    for call in (polos.get_execution, polos.cancel_execution, polos.wait_for_result):
        with pytest.raises(ExecutionNotFoundError) as err:
            await call("no-such-execution")
        assert err.value.execution_id == "no-such-execution"
        assert "no-such-execution" in str(err.value)
    ghost = ExecutionHandle(id="ghost", workflow_id="core_echo")
    with pytest.raises(ExecutionNotFoundError):
        await ghost.get(polos)
    with pytest.raises(ExecutionNotFoundError):
        await ghost.result(polos, timeout=1)


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": "o", "quantity": "many", "placed_at": "2024-05-01T10:00:00"},
        {"order_id": "o"},
        "not an order",
        None,
    ],
)
async def test_bad_payload_is_refused_before_anything_is_stored(
    polos: Polos, payload: object
) -> None:
    with pytest.raises(InvalidPayloadError) as err:
        await core_order.invoke(polos, payload)
    assert "core_order" in str(err.value) and "OrderInput" in str(err.value)
    with pytest.raises(InvalidPayloadError):
        await polos.invoke("core_order", payload)  # by id, through the client
    assert await polos.list_executions() == []


async def test_client_options_are_checked(polos: Polos) -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        await core_echo.invoke(polos, 1, no_such_option=True)
    assert await polos.list_executions() == []


async def test_calling_run_or_invoke_inside_a_workflow_is_refused(polos: Polos) -> None:
    handle = await core_inside.invoke(polos)
    errors = await handle.result(timeout=10)
    for call in ("run", "invoke"):
        assert "core_echo" in errors[call] and "ctx.step.invoke" in errors[call], errors[call]
    executions = await polos.list_executions()
    assert [e.workflow_id for e in executions] == ["core_inside"], "nothing else was started"


async def test_run_and_invoke_without_a_client_use_the_current_polos(polos: Polos) -> None:
    assert await core_echo.run({"a": [1, 2]}, timeout=10) == {"a": [1, 2]}
    assert await core_echo.run(None, {"b": 2}, timeout=10) == {"b": 2}
    assert await core_no_payload.run(timeout=10) == "ran core_no_payload"
    handle = await core_echo.invoke("hello")
    assert await handle.result(timeout=10) == "hello"
    ids = {e.id for e in await polos.list_executions()}
    assert handle.id in ids and len(ids) == 4, "all ran on the fixture's database"


async def test_a_separate_client_sees_the_same_executions(polos: Polos, database_url: str) -> None:
    handle = await core_echo.invoke(polos, {"x": 1})
    async with PolosClient(database_url=database_url) as client:
        assert await client.wait_for_result(handle.id, timeout=10) == {"x": 1}
        info = await handle.get(client)
        assert info.status == "completed" and info.result == {"x": 1}
        assert await client.run("core_echo", [1, 2], timeout=10) == [1, 2]


async def test_ctx_fields_are_filled_in(polos: Polos) -> None:
    handle = await core_ctx_fields.invoke(polos, session_id="s-9", user_id="u-9")
    result = await handle.result(timeout=10)
    info = await handle.get()
    first, replay = result["first"], result["replay"]
    for fields in (first, replay):
        assert fields["execution_id"] == handle.id
        assert fields["workflow_id"] == "core_ctx_fields"
        assert fields["session_id"] == "s-9" and fields["user_id"] == "u-9"
        assert fields["parent_execution_id"] is None
        assert fields["root_execution_id"] == handle.id
        assert fields["root_workflow_id"] == "core_ctx_fields"
        assert fields["created_at"] == info.created_at
        assert fields["started_at"] == info.started_at  # the first start, kept on replay
        assert fields["retry_count"] == fields["attempt"] - 1
    assert first["attempt"] == 1 and replay["attempt"] == 2 == info.attempt
    assert isinstance(first["created_at"], datetime) and first["created_at"].tzinfo is not None
    assert isinstance(first["started_at"], datetime)


async def test_started_at_is_never_before_created_at(polos: Polos) -> None:
    out_of_order = []
    for _ in range(8):  # the race needs a claim in flight while executions are created
        handles = [await core_no_payload.invoke(polos) for _ in range(50)]
        for handle in handles:
            await handle.result(timeout=10)
        infos = [await handle.get() for handle in handles]
        out_of_order += [i.id for i in infos if i.started_at is None or i.started_at < i.created_at]
        if out_of_order:
            break
    assert out_of_order == []


async def test_wait_until_a_datetime(polos: Polos) -> None:
    at = datetime.now(UTC) + timedelta(seconds=0.3)
    handle = await core_wait_until.invoke(polos, at)
    woke = await handle.result(timeout=10)
    assert woke >= at.timestamp() - 0.01
    waiting = next(h for h in (await handle.get()).history if h.event == "waiting")
    assert waiting.detail is not None
    assert waiting.detail["wake_at"] == pytest.approx(at.timestamp(), abs=0.001)


async def test_wait_until_a_past_datetime_does_not_wait(polos: Polos) -> None:
    handle = await core_wait_until.invoke(polos, datetime.now(UTC) - timedelta(hours=1))
    await handle.result(timeout=10)
    info = await handle.get()
    assert "waiting" not in events(info) and info.attempt == 1
    assert [(s.step_key, s.kind) for s in info.steps] == [("until", "wait")]


def test_workflow_registry() -> None:
    assert get_workflow("core_order") is core_order
    assert get_workflow("core_no_such_workflow") is None
    assert get_all_workflows()[core_echo.id] is core_echo
    assert core_order.id == "core_order"


def test_polos_errors_share_a_base_class() -> None:
    for error in (
        ExecutionCancelledError,
        ExecutionNotFoundError,
        InvalidPayloadError,
        WorkflowFailedError,
        WorkflowTimeoutError,
    ):
        assert issubclass(error, PolosError)
