"""One run's bad input fails that run only, with a clear error, on both backends."""

from __future__ import annotations

import asyncio
import random
import string
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from polos import (
    InvalidStepKeyError,
    Polos,
    SerializationError,
    WorkflowContext,
    WorkflowFailedError,
    serialization,
    workflow,
)
from polos.durations import MAX_DURATION_SECONDS, check_wake_at, parse_duration, utc_datetime
from polos.engine.retry import RetryPolicy
from polos.engine.step_keys import MAX_STEP_KEY_CHARS, check_step_key
from toolkit.database import execute_sql
from toolkit.waiting import wait_for_status, wait_for_step

BAD_KEYS = {
    # Above PostgreSQL's ~2.7 KB index entry limit even once compressed.
    "long": "".join(random.Random(10).choices(string.ascii_letters, k=4000)),
    "just_over": "k" * (MAX_STEP_KEY_CHARS + 1),
    "nul": "before\x00after",
    "surrogate": "lone\ud800surrogate",
}


def _echo(value: Any) -> Any:
    return value


@workflow(id="bad_input_keys")
async def bad_input_keys(ctx: WorkflowContext, mode: str) -> str:
    for i in range(5):
        await ctx.step.run(f"good_{i}", _echo, i)
        await asyncio.sleep(0)  # interleave with the other runs' records
        if mode != "ok" and i == 2:
            await ctx.step.run(BAD_KEYS[mode], _echo, "bad")
    return "ok"


@pytest.mark.parametrize("mode", sorted(BAD_KEYS))
async def test_a_bad_step_key_fails_only_its_own_run(polos: Polos, mode: str) -> None:
    # Many runs record steps at the same moment (on PostgreSQL they share group
    # commits); the one with the bad key fails clearly, the others complete.
    handles = [await bad_input_keys.invoke(polos, "ok") for _ in range(30)]
    bad = await bad_input_keys.invoke(polos, mode)
    handles += [await bad_input_keys.invoke(polos, "ok") for _ in range(30)]
    assert [await h.result(polos, timeout=30) for h in handles] == ["ok"] * 60
    with pytest.raises(WorkflowFailedError) as failure:
        await bad.result(polos, timeout=30)
    assert failure.value.error["type"] == "InvalidStepKeyError"
    steps = [s.step_key for s in (await bad.get(polos)).steps]
    assert steps == ["good_0", "good_1", "good_2"]


def test_step_key_rules() -> None:
    assert check_step_key("k" * MAX_STEP_KEY_CHARS) == "k" * MAX_STEP_KEY_CHARS
    assert check_step_key("émoji 🎉 ok") == "émoji 🎉 ok"
    # Suffixes Polos adds to an accepted key (durable retries, suspend announcements).
    longest = "k" * MAX_STEP_KEY_CHARS
    assert check_step_key(f"{longest}::retry12") and check_step_key(f"{longest}.announce")
    with pytest.raises(InvalidStepKeyError, match=f"the limit is {MAX_STEP_KEY_CHARS}"):
        check_step_key(BAD_KEYS["just_over"])
    with pytest.raises(InvalidStepKeyError, match="NUL"):
        check_step_key(BAD_KEYS["nul"])
    with pytest.raises(InvalidStepKeyError, match="UTF-8") as err:
        check_step_key(BAD_KEYS["surrogate"])
    str(err.value).encode()  # the message itself can be stored
    assert isinstance(err.value, ValueError)
    with pytest.raises(TypeError):
        check_step_key("")


# durations and datetimes --------------------------------------------------------------
@workflow(id="bad_input_waits")
async def bad_input_waits(ctx: WorkflowContext, mode: str) -> str:
    if mode == "wait_for":
        await ctx.step.wait_for("nap", days=1e9)
    elif mode == "wait_string":
        await ctx.step.wait_for("nap", "1000000w")
    elif mode == "wait_until":
        await ctx.step.wait_until("nap", datetime(9999, 12, 31, tzinfo=UTC))
    elif mode == "event_timeout":
        await ctx.step.wait_for_event("nap", "bad_input.topic", timeout=1e18)
    elif mode == "child_timeout":
        await ctx.step.invoke("nap", "bad_input_waits", "hour", run_timeout_seconds=1e18)
    elif mode == "hour":
        await ctx.step.wait_for("nap", hours=1)
    return mode


@pytest.mark.parametrize(
    "mode", ["wait_for", "wait_string", "wait_until", "event_timeout", "child_timeout"]
)
async def test_absurd_waits_fail_at_the_call_and_inspection_keeps_working(
    polos: Polos, mode: str
) -> None:
    waiting = await bad_input_waits.invoke(polos, "hour")
    handle = await bad_input_waits.invoke(polos, mode)
    with pytest.raises(WorkflowFailedError) as failure:
        await handle.result(polos, timeout=10)
    assert failure.value.error["type"] == "ValueError"
    message = failure.value.error["message"]
    assert "out of range" in message and "100 years" in message
    # Nothing was stored that breaks reading, for this run or anyone else's.
    assert (await handle.get(polos)).status == "failed"
    assert (await waiting.get(polos)).status in ("queued", "running", "waiting")
    assert len(await polos.list_executions()) >= 2


@pytest.mark.parametrize("value", [1e18, float("inf"), 0, -5])
async def test_run_timeout_out_of_range_is_refused_at_invoke(polos: Polos, value: float) -> None:
    with pytest.raises(ValueError, match="run_timeout_seconds"):
        await bad_input_waits.invoke(polos, "ok", run_timeout_seconds=value)


@pytest.mark.parametrize("stored", ["1e18", "-1e18", "8.64e13"])
async def test_a_stored_out_of_range_time_does_not_break_reading(
    polos: Polos, database_url: str, stored: str
) -> None:
    handle = await bad_input_waits.invoke(polos, "hour")
    await wait_for_status(polos, handle.id, "waiting")
    await execute_sql(
        database_url, f"UPDATE executions SET wake_at = {stored} WHERE id = '{handle.id}'"
    )
    info = await handle.get(polos)
    assert info.wake_at is not None and info.wake_at.year in (1, 9999)
    assert handle.id in [e.id for e in await polos.list_executions()]


def test_duration_range_rules() -> None:
    assert parse_duration("100w") == 100 * 604800
    assert parse_duration(MAX_DURATION_SECONDS) == MAX_DURATION_SECONDS
    for value in ("1000000w", 1e10, timedelta(days=40000)):
        with pytest.raises(ValueError, match=r"out of range.*100 years"):
            parse_duration(value)
    with pytest.raises(ValueError, match="max_delay=1e\\+300 is out of range"):
        RetryPolicy(max_delay=1e300)
    now = time.time()
    assert check_wake_at(datetime(2000, 1, 1), now) == datetime(2000, 1, 1, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="9999-12-31"):
        check_wake_at(datetime(9999, 12, 31), now)
    assert utc_datetime(1e300) == datetime.max.replace(tzinfo=UTC)
    assert utc_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)


# stored data never runs code ----------------------------------------------------------
def _planted(tag: str, ref: str, marker: Path) -> str:
    """A stored value naming a callable as its class, as someone with write access could."""
    command = f"touch {marker}"
    values: dict[str, Any] = {
        "enum": command,
        "model": {"args": ["touch", str(marker)]},
        "dataclass": {"args": ["touch", str(marker)]},
        "namedtuple": [command],
    }
    return orjson.dumps({"__polos__": tag, "c": ref, "v": values[tag]}).decode()


PLANTS = [
    ("enum", "os:system"),  # os is always imported: found, but not an Enum
    ("dataclass", "subprocess:Popen"),  # a class, but not a dataclass
    ("model", "subprocess:run"),
    ("namedtuple", "builtins:eval"),
    ("enum", "this:Nothing"),  # never imported: importing it would print the Zen
    ("dataclass", "os:path.os.system"),  # walks through a module attribute
]


@pytest.mark.parametrize(("tag", "ref"), PLANTS)
def test_decoding_never_calls_or_imports_what_stored_data_names(
    tmp_path: Path, tag: str, ref: str
) -> None:
    marker = tmp_path / "ran"
    text = _planted(tag, ref, marker)
    with pytest.raises(SerializationError) as err:
        serialization.loads(text)
    assert ref in str(err.value) and "cannot be used" in str(err.value)
    assert serialization.loads(text, strict=False) is not None  # plain data for readers
    assert not marker.exists() and "this" not in sys.modules


@workflow(id="bad_input_planted")
async def bad_input_planted(ctx: WorkflowContext, topic: str) -> str:
    value = await ctx.step.run("value", _echo, "harmless")
    await ctx.step.wait_for_event("go", topic)  # the row is planted meanwhile
    return str(value)


@pytest.mark.parametrize(("tag", "ref"), PLANTS[:1] + PLANTS[4:5])
async def test_a_planted_row_runs_nothing_on_replay(
    polos: Polos, database_url: str, tmp_path: Path, tag: str, ref: str
) -> None:
    marker = tmp_path / "ran"
    topic = f"bad_input.{uuid.uuid4().hex}"
    handle = await bad_input_planted.invoke(polos, topic)
    await wait_for_step(polos, handle.id, "go")
    planted = _planted(tag, ref, marker).replace("'", "''")
    await execute_sql(
        database_url,
        f"UPDATE steps SET output = '{planted}' WHERE execution_id = '{handle.id}' "
        "AND step_key = 'value'",
    )
    await polos.publish(topic, {"go": True})
    with pytest.raises(WorkflowFailedError) as failure:
        await handle.result(polos, timeout=10)
    assert failure.value.error["type"] == "SerializationError"
    assert ref in failure.value.error["message"]
    assert not marker.exists() and "this" not in sys.modules
    info = await handle.get(polos)  # readers see the plain data, nothing runs
    assert [s.output for s in info.steps if s.step_key == "value"] != ["harmless"]
    assert not marker.exists()
