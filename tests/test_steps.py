"""``ctx.step``: keys, replay, fixed values, parallel steps and size limits."""

from __future__ import annotations

import time
import uuid

import pytest

from core_workflows import (
    FLAGS,
    MAX_IN_FLIGHT,
    SEEN,
    calls,
    core_bad_key,
    core_big_output,
    core_duplicate_key,
    core_echo,
    core_fixed_values,
    core_gather,
    core_gathered_naps,
    core_idempotency,
    core_keys_shift,
    core_nondeterminism,
    core_replay_counter,
)
from polos import PayloadTooLargeError, Polos, WorkflowFailedError
from polos.engine.run import DEFAULT_MAX_PAYLOAD_BYTES


def new_tag() -> str:
    return uuid.uuid4().hex


# step keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["run_run", "uuid_run", "gather"])
async def test_duplicate_step_key_fails_the_workflow(polos: Polos, mode: str) -> None:
    tag = new_tag()
    handle = await core_duplicate_key.invoke(polos, {"tag": tag, "mode": mode})
    with pytest.raises(WorkflowFailedError) as err:
        await handle.result(timeout=10)
    assert err.value.error["type"] == "DuplicateStepKeyError"
    assert "'same'" in err.value.error["message"]
    assert "used twice" in err.value.error["message"]
    info = await handle.get()
    assert info.status == "failed"
    # the second call never ran; at most the first step with that key was recorded
    # (under gather, the first branch may be cancelled before it records)
    keys = [s.step_key for s in info.steps]
    assert keys == ["same"] or (mode == "gather" and keys == [])
    assert calls(tag, "second") == 0


async def test_duplicate_step_key_can_be_caught(polos: Polos) -> None:
    tag = new_tag()
    result = await core_duplicate_key.run(polos, {"tag": tag, "mode": "caught"}, timeout=10)
    assert result["key"] == "same"
    assert "'same'" in result["caught"]
    assert calls(tag, "first") == 1 and calls(tag, "second") == 0


async def test_replay_matches_steps_by_key_not_position(polos: Polos) -> None:
    tag = new_tag()
    # The first run records "a" and "deploy", which sets FLAGS[tag]: on replay the
    # code takes a path with a new step in front of the recorded ones.
    handle = await core_keys_shift.invoke(polos, tag)
    result = await handle.result(timeout=10)
    assert FLAGS[tag] is True
    assert result == {
        "inserted": "inserted-value",
        "a": "a-value",
        "flag": "flag set",
        "b": "b-value",
        "attempt": result["attempt"],
    }
    assert result["attempt"] >= 2
    assert calls(tag, "a") == 1, "a recorded step ran again after a step was added in front"
    assert calls(tag, "set_flag") == 1
    assert calls(tag, "inserted") == 1 and calls(tag, "b") == 1
    info = await handle.get()
    outputs = {s.step_key: s.output for s in info.steps}
    assert outputs["a"] == "a-value" and outputs["inserted"] == "inserted-value"


@pytest.mark.parametrize(
    "change, now_called",
    [("kind", "ctx.step.uuid"), ("function", "ctx.step.run(other_step_value)")],
)
async def test_recorded_key_reused_differently_is_non_determinism(
    polos: Polos, change: str, now_called: str
) -> None:
    tag = new_tag()
    handle = await core_nondeterminism.invoke(polos, {"tag": tag, "change": change})
    with pytest.raises(WorkflowFailedError) as err:
        await handle.result(timeout=10)
    error = err.value.error
    assert error["type"] == "NonDeterminismError"
    assert "'k'" in error["message"]
    assert "ctx.step.run(set_flag)" in error["message"]  # what was recorded
    assert now_called in error["message"]  # what the code calls now
    assert calls(tag, "other:k") == 0, "the step must not run under a key recorded for another"
    info = await handle.get()
    assert info.status == "failed"
    assert info.steps[0].output == "flag set"  # the recorded value is untouched


async def test_step_key_must_be_a_non_empty_string(polos: Polos) -> None:
    with pytest.raises(WorkflowFailedError) as err:
        await core_bad_key.run(polos, timeout=10)
    assert err.value.error["type"] == "TypeError"
    assert "step key" in err.value.error["message"]


# replay ------------------------------------------------------------------------------
async def test_recorded_steps_never_run_again(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_replay_counter.invoke(polos, tag)
    result = await handle.result(timeout=10)
    assert result["a"] == "a-value" and result["c"] == "c-value" and result["d"] == "d-value"
    assert result["b"] == {"name": "b", "thread": True}  # sync functions run in a thread
    assert result["attempt"] == 3, "two waits: the workflow ran three times"
    assert {name: calls(tag, name) for name in "abcd"} == {"a": 1, "b": 1, "c": 1, "d": 1}
    info = await handle.get()
    assert [s.step_key for s in info.steps if s.kind == "run"] == ["a", "b", "c", "d"]
    assert {s.step_key: s.attempt for s in info.steps if s.kind == "run"} == {
        "a": 1,
        "b": 1,
        "c": 2,
        "d": 3,
    }


async def test_uuid_now_random_are_fixed_at_first_run(polos: Polos) -> None:
    tag = new_tag()
    result = await core_fixed_values.run(polos, tag, timeout=10)
    assert result["attempt"] >= 2
    u, n, r = SEEN[tag]  # what the first run saw
    assert result["u"] == u and result["n"] == n and result["r"] == r
    assert uuid.UUID(result["u"]).version == 4
    assert isinstance(result["n"], int) and abs(result["n"] / 1000 - time.time()) < 60
    assert isinstance(result["r"], float) and 0 <= result["r"] < 1
    assert calls(tag, "capture") == 1
    other = new_tag()
    second = await core_fixed_values.run(polos, other, timeout=10)
    assert second["u"] != result["u"] and second["r"] != result["r"]


async def test_gathered_steps_record_and_replay_in_order(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_gather.invoke(polos, tag)
    result = await handle.result(timeout=10)
    assert result["squares"] == [0, 1, 4, 9, 16]
    assert result["more"] == ["after0-value", "after1-value"]
    assert result["attempt"] >= 2
    assert all(calls(tag, f"square{i}") == 1 for i in range(5)), "a gathered step ran again"
    assert calls(tag, "after0") == 1 and calls(tag, "after1") == 1
    assert MAX_IN_FLIGHT[tag] > 1, "gathered steps should run concurrently"
    info = await handle.get()
    outputs = {s.step_key: s.output for s in info.steps}
    assert {k: outputs[k] for k in ("sq0", "sq1", "sq2", "sq3", "sq4")} == {
        "sq0": 0,
        "sq1": 1,
        "sq2": 4,
        "sq3": 9,
        "sq4": 16,
    }


async def test_idempotency_key_is_stable_across_replay(polos: Polos) -> None:
    tag = new_tag()
    handle = await core_idempotency.invoke(polos, tag)
    result = await handle.result(timeout=10)
    assert result["attempt"] >= 2
    assert result["before"] == result["after"] == SEEN[tag]
    assert result["receipt"] == f"charged with {SEEN[tag]}"
    assert handle.id in result["before"] and "charge" in result["before"]
    assert result["other"] != result["before"]
    assert calls(tag, "charge") == 1
    other = await core_idempotency.run(polos, new_tag(), timeout=10)
    assert other["before"] != result["before"], "keys must differ between executions"


# payload size limits -----------------------------------------------------------------
async def test_oversized_invoke_payload_is_refused_before_storing(polos: Polos) -> None:
    big = "x" * (DEFAULT_MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(PayloadTooLargeError) as err:
        await core_echo.invoke(polos, {"blob": big})
    assert "core_echo" in str(err.value) and str(DEFAULT_MAX_PAYLOAD_BYTES) in str(err.value)
    assert err.value.size > err.value.limit == DEFAULT_MAX_PAYLOAD_BYTES
    assert await polos.list_executions() == []
    # just under the limit is fine
    ok = "y" * (DEFAULT_MAX_PAYLOAD_BYTES - 100)
    assert await core_echo.run(polos, ok, timeout=10) == ok


async def test_oversized_step_output_fails_that_step(polos: Polos) -> None:
    handle = await core_big_output.invoke(polos, DEFAULT_MAX_PAYLOAD_BYTES + 10)
    result = await handle.result(timeout=10)
    assert result == {
        "small": "x" * 10,
        "step_key": "big_output",
        "error_type": "PayloadTooLargeError",
    }
    info = await handle.get()
    big = next(s for s in info.steps if s.step_key == "big_output")
    assert big.output is None and big.error is not None
    assert big.error["type"] == "PayloadTooLargeError"
    assert "big_output" in big.error["message"] and "max_payload_bytes" in big.error["message"]


async def test_step_output_limit_is_configurable(sqlite_url: str) -> None:
    async with Polos(database_url=sqlite_url, poll_interval=0.05, max_payload_bytes=1000) as polos:
        result = await core_big_output.run(polos, 2000, timeout=10)
        assert result["step_key"] == "big_output"
        assert result["error_type"] == "PayloadTooLargeError"


async def test_invoke_payload_limit_follows_polos_option(sqlite_url: str) -> None:
    async with Polos(database_url=sqlite_url, poll_interval=0.05, max_payload_bytes=1000) as polos:
        with pytest.raises(PayloadTooLargeError):
            await core_echo.invoke(polos, "z" * 2000)
        assert await polos.list_executions() == []


async def test_a_step_records_when_it_began_so_gathered_steps_overlap(polos: Polos) -> None:
    handle = await core_gathered_naps.invoke(polos)
    assert await handle.result(timeout=20) == [0.3, 0.3]
    info = await polos.get_execution(handle.id)
    a, b = sorted(info.steps, key=lambda s: s.step_key)
    for s in (a, b):
        assert s.started_at is not None
        assert (s.created_at - s.started_at).total_seconds() >= 0.3  # its own time, in full
    assert a.started_at is not None and b.started_at is not None
    assert a.started_at < b.created_at and b.started_at < a.created_at  # they overlapped
