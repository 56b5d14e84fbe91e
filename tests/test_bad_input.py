"""One run's bad input fails that run only, with a clear error, on both backends."""

from __future__ import annotations

import asyncio
import random
import string
from typing import Any

import pytest

from polos import InvalidStepKeyError, Polos, WorkflowContext, WorkflowFailedError, workflow
from polos.engine.step_keys import MAX_STEP_KEY_CHARS, check_step_key

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
