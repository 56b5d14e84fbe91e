"""Step retries: exponential backoff, limits, FatalError, RetryableError, replayed errors."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import pytest

from core_workflows import (
    CALL_TIMES,
    MESSAGES,
    RetrySpec,
    calls,
    core_error_replay,
    core_retry,
    core_retry_uncaught,
)
from polos import FatalError, Polos, RetryableError, WorkflowContext, WorkflowFailedError, workflow
from polos.engine.retry import RetryPolicy


def spec(**fields: Any) -> RetrySpec:
    return RetrySpec(tag=uuid.uuid4().hex, **fields)


async def retry_history(polos: Polos, execution_id: str) -> list[dict[str, Any]]:
    info = await polos.get_execution(execution_id)
    return [h.detail or {} for h in info.history if h.event == "step_retry"]


# the policy on its own ---------------------------------------------------------------
def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5, max_delay=3, jitter=0)
    assert [policy.delay(ValueError(), n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def test_backoff_is_jittered_so_runs_failing_together_do_not_retry_together() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=1, max_delay=8)
    for n, backoff in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        delays = [policy.delay(ValueError(), n) for _ in range(200)]
        assert all(backoff / 2 <= d <= backoff for d in delays)
        assert max(delays) - min(delays) > backoff / 4, "spread, not lock-step"
    # A server's Retry-After is honoured exactly.
    assert policy.delay(RetryableError("x", retry_after=3), 1) == 3
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)


def test_should_retry_counts_and_never_retries_fatal() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(ValueError(), 0) and policy.should_retry(ValueError(), 1)
    assert not policy.should_retry(ValueError(), 2)
    assert not policy.should_retry(FatalError("no"), 0)
    assert policy.should_retry(RetryableError("later"), 1)


def test_huge_retry_numbers_do_not_overflow() -> None:
    assert (
        RetryPolicy(max_retries=5000, base_delay=0.01, max_delay=7, jitter=0).delay(
            ValueError(), 4000
        )
        == 7
    )


@pytest.mark.parametrize("kwargs", [{"max_retries": -1}, {"base_delay": -0.1}, {"max_delay": -1}])
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# end to end ------------------------------------------------------------------------
async def test_transient_failures_are_retried_with_exponential_backoff(polos: Polos) -> None:
    s = spec(fail_times=3, max_retries=3, base_delay=0.01)
    handle = await core_retry.invoke(polos, s)
    assert await handle.result(timeout=10) == {"ok": "succeeded on call 4"}
    assert calls(s.tag, "flaky") == 4
    retries = await retry_history(polos, handle.id)
    assert [r["retry"] for r in retries] == [1, 2, 3]
    for r, backoff in zip(retries, [0.01, 0.02, 0.04], strict=True):
        assert backoff / 2 <= r["delay"] <= backoff  # jittered down by up to half
    assert all(r["step_key"] == "flaky" for r in retries)
    assert "ConnectionError: transient failure #1" in retries[0]["error"]
    times = CALL_TIMES[f"{s.tag}:flaky"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[2] >= retries[2]["delay"] - 0.005  # the third delay really was waited
    info = await handle.get()
    step = next(x for x in info.steps if x.step_key == "flaky")
    assert step.output == "succeeded on call 4" and step.error is None


async def test_backoff_is_capped_by_max_delay(polos: Polos) -> None:
    s = spec(fail_times=4, max_retries=4, base_delay=0.01, max_delay=0.025)
    handle = await core_retry.invoke(polos, s)
    assert (await handle.result(timeout=10))["ok"] == "succeeded on call 5"
    delays = [r["delay"] for r in await retry_history(polos, handle.id)]
    for delay, backoff in zip(delays, [0.01, 0.02, 0.025, 0.025], strict=True):
        assert backoff / 2 <= delay <= backoff


async def test_max_retries_is_respected(polos: Polos) -> None:
    s = spec(max_retries=2)
    handle = await core_retry.invoke(polos, s)
    result = await handle.result(timeout=10)
    assert result["ok"] is None
    assert result["step_key"] == "flaky"
    assert result["error_type"] == "ConnectionError"
    assert result["error_message"] == "transient failure #3"  # the final error
    assert result["attempts"] == 3
    assert calls(s.tag, "flaky") == 3
    assert len(await retry_history(polos, handle.id)) == 2
    info = await handle.get()
    step = next(x for x in info.steps if x.step_key == "flaky")
    assert step.output is None
    assert step.error == {
        "type": "ConnectionError",
        "module": "builtins",
        "message": "transient failure #3",
        "attempts": 3,
    }


async def test_zero_retries_means_one_call(polos: Polos) -> None:
    s = spec(max_retries=0)
    handle = await core_retry.invoke(polos, s)
    assert (await handle.result(timeout=10))["attempts"] == 1
    assert calls(s.tag, "flaky") == 1
    assert await retry_history(polos, handle.id) == []


async def test_fatal_error_is_never_retried(polos: Polos) -> None:
    s = spec(error="fatal", max_retries=5, base_delay=0.01)
    handle = await core_retry.invoke(polos, s)
    result = await handle.result(timeout=10)
    assert result["error_type"] == "FatalError"
    assert result["error_message"] == "fatal failure #1"
    assert result["attempts"] == 1
    assert calls(s.tag, "flaky") == 1
    assert await retry_history(polos, handle.id) == []


@pytest.mark.parametrize("retry_after", [0.05, "50ms"])
async def test_retryable_error_retry_after_is_honoured(
    polos: Polos, retry_after: float | str
) -> None:
    # base_delay is tiny, so only retry_after can explain the wait
    s = spec(error="retryable", retry_after=retry_after, fail_times=1, base_delay=0.001)
    handle = await core_retry.invoke(polos, s)
    assert (await handle.result(timeout=10))["ok"] == "succeeded on call 2"
    assert [r["delay"] for r in await retry_history(polos, handle.id)] == pytest.approx([0.05])
    first, second = CALL_TIMES[f"{s.tag}:flaky"]
    assert second - first >= 0.045


async def test_retryable_error_still_counts_against_max_retries(polos: Polos) -> None:
    s = spec(error="retryable", retry_after=0.001, max_retries=2)
    result = await core_retry.run(polos, s, timeout=10)
    assert result["error_type"] == "RetryableError" and result["attempts"] == 3
    assert calls(s.tag, "flaky") == 3


async def test_final_step_error_fails_an_uncaught_workflow(polos: Polos) -> None:
    s = spec(max_retries=1, base_delay=0.01)
    handle = await core_retry_uncaught.invoke(polos, s)
    with pytest.raises(WorkflowFailedError) as err:
        await handle.result(timeout=10)
    assert err.value.error["type"] == "StepExecutionError"
    message = err.value.error["message"]
    assert "'flaky'" in message and "2 attempt(s)" in message
    assert "ConnectionError: transient failure #2" in message
    assert (await handle.get()).status == "failed"
    assert calls(s.tag, "flaky") == 2


async def test_recorded_error_is_raised_again_on_replay_without_rerunning(polos: Polos) -> None:
    s = spec(error="plain")
    handle = await core_error_replay.invoke(polos, s)
    result = await handle.result(timeout=10)
    assert result["caught"] is True
    assert result["attempt"] >= 2, "the workflow should have replayed after its wait"
    assert calls(s.tag, "flaky") == 2  # max_retries=1: two calls on the first run, none after
    first, *replays = MESSAGES[s.tag]
    assert replays and all(m == first for m in replays), "replay raised a different error"
    assert "'doomed'" in first and "transient failure #2" in first
    assert len(await retry_history(polos, handle.id)) == 1


DURABLE_CALLS: list[float] = []


async def rate_limited() -> str:
    DURABLE_CALLS.append(time.monotonic())
    if len(DURABLE_CALLS) == 1:
        raise RetryableError("rate limited", retry_after=5.2)
    return "ok"


@workflow(id="core_durable_retry")
async def core_durable_retry(ctx: WorkflowContext) -> str:
    return str(await ctx.step.run("call", rate_limited, max_retries=3))


async def test_long_retry_delays_wait_durably(polos: Polos) -> None:
    DURABLE_CALLS.clear()
    handle = await core_durable_retry.invoke(polos)
    for _ in range(300):
        info = await handle.get()
        if info.status == "waiting":
            break
        await asyncio.sleep(0.02)
    assert (info.status, info.waiting_on) == ("waiting", "call::retry1")  # no slot held
    assert await handle.result(timeout=30) == "ok"
    assert len(DURABLE_CALLS) == 2 and DURABLE_CALLS[1] - DURABLE_CALLS[0] >= 5.0
    steps = [s.step_key for s in (await handle.get()).steps]
    assert steps == ["call::retry1", "call"]
