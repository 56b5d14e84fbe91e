"""``@step``: plain functions become durable steps when called inside a workflow."""

from __future__ import annotations

import inspect
import uuid

import pytest

from core_workflows import (
    Mailer,
    calls,
    core_decorated,
    core_decorated_gather,
    core_decorated_method,
    core_decorated_retry,
    decorated_flaky,
    send_email,
    sync_add,
)
from polos import Polos, step


def new_tag() -> str:
    return uuid.uuid4().hex


async def test_keys_come_from_the_name_and_a_counter(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_decorated.invoke(polos, tag)
    result = await handle.result(timeout=10)
    assert result["results"] == [
        "sent to a@x",
        "sent to b@x",
        "sent to c@x",
        "sent to d@x",
        "renamed result",
        5,
        "sent to e@x",
    ]
    info = await handle.get()
    outputs = {s.step_key: s.output for s in info.steps if s.kind == "run"}
    assert outputs == {
        "send_email": "sent to a@x",
        "send_email#2": "sent to b@x",
        "explicit_email": "sent to c@x",  # .with_key does not use up a counter value
        "send_email#3": "sent to d@x",
        "renamed_step": "renamed result",  # @step(key=...)
        "sync_add": 5,
        "send_email#4": "sent to e@x",
    }
    names = {s.step_key: s.name for s in info.steps if s.kind == "run"}
    assert names["send_email"] == names["send_email#4"] == "send_email"


async def test_decorated_steps_replay_without_running_again(polos: Polos) -> None:
    tag = new_tag()
    result = await core_decorated.run(polos, tag, timeout=10)
    assert result["attempt"] >= 2, "the workflow should have replayed after its wait"
    for to in ("a@x", "b@x", "c@x", "d@x", "e@x"):
        assert calls(tag, f"send_email:{to}") == 1, to
    assert calls(tag, "renamed") == 1


async def test_gathered_calls_get_keys_in_call_order(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_decorated_gather.invoke(polos, tag)
    assert await handle.result(timeout=10) == [f"sent to user{i}" for i in range(4)]
    info = await handle.get()
    outputs = {s.step_key: s.output for s in info.steps if s.kind == "run"}
    assert outputs == {
        "send_email": "sent to user0",
        "send_email#2": "sent to user1",
        "send_email#3": "sent to user2",
        "send_email#4": "sent to user3",
    }
    assert all(calls(tag, f"send_email:user{i}") == 1 for i in range(4))


async def test_retry_options_apply(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_decorated_retry.invoke(polos, tag)
    result = await handle.result(timeout=10)
    assert result["ok"] == "ok after 3"
    assert calls(tag, "decorated_flaky") == 3
    assert result["failed"] == {
        "step_key": "decorated_always_fails",
        "attempts": 2,
        "type": "ConnectionError",
    }
    assert calls(tag, "decorated_always_fails") == 2
    info = await handle.get()
    retries = [h.detail for h in info.history if h.event == "step_retry"]
    expected = [
        ("decorated_flaky", 0.01),
        ("decorated_flaky", 0.02),
        ("decorated_always_fails", 0.01),
    ]
    assert [r["step_key"] for r in retries if r] == [key for key, _ in expected]
    for r, (_, backoff) in zip([r for r in retries if r], expected, strict=True):
        assert backoff / 2 <= r["delay"] <= backoff  # jittered down by up to half


async def test_decorated_methods_bind_self(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_decorated_method.invoke(polos, tag)
    assert await handle.result(timeout=10) == ["ops@x -> a@x", "ops@x -> b@x", "ops@x -> c@x"]
    keys = [s.step_key for s in (await handle.get()).steps]
    assert sorted(keys) == ["deliver", "deliver#2", "keyed_delivery"]


async def test_outside_a_workflow_the_function_runs_directly() -> None:
    tag = new_tag()
    assert await send_email(tag, "direct@x") == "sent to direct@x"
    assert calls(tag, "send_email:direct@x") == 1
    assert sync_add(2, 2) == 4  # a sync step stays sync outside a workflow
    assert await send_email.with_key("whatever")(tag, "keyed@x") == "sent to keyed@x"
    # no retries outside a workflow: the function is just called
    with pytest.raises(ConnectionError):
        decorated_flaky(tag)
    assert calls(tag, "decorated_flaky") == 1
    assert await Mailer("me").deliver(tag, "you") == "me -> you"


def test_decorator_keeps_the_function_metadata() -> None:
    assert send_email.__name__ == "send_email"
    assert send_email.__wrapped__.__qualname__ == "send_email"  # type: ignore[attr-defined]
    assert inspect.iscoroutinefunction(send_email.__wrapped__)  # type: ignore[attr-defined]


def test_bad_decorator_options_fail_at_decoration() -> None:
    with pytest.raises(ValueError):

        @step(max_retries=-1)
        def negative() -> None: ...

    with pytest.raises(ValueError, match="cannot read duration"):

        @step(retry_delay="soon")
        def unreadable() -> None: ...

    with pytest.raises(TypeError):
        step(42)  # type: ignore[call-overload]
