"""Values stored as JSON come back as the types the code expects.

Unit tests on ``polos.serialization`` first, then end to end: a step that
returned each value gives back the same type when the workflow replays after
a wait, and a value that cannot be stored fails at the step that made it.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePosixPath
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, computed_field

from core_workflows import (
    CALLS,
    OPEN_SOCKETS,
    SAMPLES,
    Address,
    Color,
    Customer,
    Pair,
    Point,
    Priority,
    Segment,
    calls,
    core_types_replay,
    core_unstorable_caught,
    core_unstorable_result,
    core_unstorable_uncaught,
    same_value,
)
from polos import Polos, SerializationError, WorkflowFailedError, serialization


def roundtrip(value: Any) -> Any:
    return serialization.loads(serialization.dumps(value))


# module-level classes for the unit tests -----------------------------------------------
class StrictModel(BaseModel):
    model_config = ConfigDict(strict=True)
    when: datetime
    color: Color
    pair: tuple[int, int]
    point: Address


class ForbidExtra(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def double(self) -> int:
        return self.x * 2


class FloatModel(BaseModel):
    value: float


class BytesModel(BaseModel):
    data: bytes


class UrlModel(BaseModel):
    url: HttpUrl


class AnyModel(BaseModel):
    payload: Any


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenSlots:
    name: str
    when: date


@dataclasses.dataclass
class WithDefaults:
    items: list[Point] = dataclasses.field(default_factory=list)
    lookup: dict[int, str] = dataclasses.field(default_factory=dict)


# unit round trips --------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_roundtrips_with_its_type(name: str) -> None:
    value = SAMPLES[name]
    back = roundtrip(value)
    assert same_value(back, value), (name, back)


def test_the_encoding_is_json_text() -> None:
    text = serialization.dumps(SAMPLES["nested_mixed"])
    assert isinstance(text, str)
    orjson.loads(text)  # plain JSON that any JSON reader can parse


def test_pydantic_model_roundtrip_keeps_nested_types() -> None:
    back = roundtrip(SAMPLES["model"])
    assert type(back) is Customer
    assert type(back.address) is Address
    assert back.address.zip_code == "12345"  # a field with an alias
    assert back.tags == {"vip", "beta"} and type(back.tags) is set
    assert back.joined == datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
    assert back.id == SAMPLES["uuid"] and type(back.id) is uuid.UUID
    assert back.balance == Decimal("1234.5678") and type(back.balance) is Decimal
    assert back.avatar == b"\x89PNG\xff\x00"  # not valid UTF-8
    assert back.color is Color.BLUE
    assert math.isnan(back.score)
    # an ``Any`` field keeps what it held, not its JSON form
    assert back.anything == {"when": date(2024, 1, 2), "ids": {1, 2}}


def test_strict_model_validates_back() -> None:
    value = StrictModel(
        when=datetime(2024, 1, 1, 9),
        color=Color.RED,
        pair=(1, 2),
        point=Address(street="s", zipCode="z"),
    )
    back = roundtrip(value)
    assert back == value and type(back.pair) is tuple


def test_model_with_computed_field_and_extra_forbid() -> None:
    back = roundtrip(ForbidExtra(x=21))
    assert type(back) is ForbidExtra and back.double == 42


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_model_float_field_keeps_non_finite_numbers(number: float) -> None:
    back = roundtrip(FloatModel(value=number))
    assert math.isnan(back.value) if math.isnan(number) else back.value == number


def test_model_bytes_field_with_arbitrary_bytes() -> None:
    assert roundtrip(BytesModel(data=bytes(range(256)))).data == bytes(range(256))


def test_model_with_url_field() -> None:
    back = roundtrip(UrlModel(url="https://example.com/a?b=1"))  # type: ignore[arg-type]
    assert type(back) is UrlModel and str(back.url) == "https://example.com/a?b=1"


def test_model_any_field_keeps_python_types() -> None:
    value = AnyModel(payload={"id": uuid.UUID(int=7), "at": time(1, 2), "raw": b"\xff"})
    back = roundtrip(value)
    assert back.payload == {"id": uuid.UUID(int=7), "at": time(1, 2), "raw": b"\xff"}


def test_dataclasses_nested_frozen_and_slots() -> None:
    seg = roundtrip(Segment(Point(0, 0), Point(6, 8), "s"))
    assert type(seg) is Segment and type(seg.start) is Point
    assert seg.length == 10.0  # a field with init=False comes back too
    with pytest.raises(dataclasses.FrozenInstanceError):
        seg.label = "changed"  # type: ignore[misc]
    frozen = roundtrip(FrozenSlots("n", date(2020, 2, 2)))
    assert frozen == FrozenSlots("n", date(2020, 2, 2))
    defaults = roundtrip(WithDefaults([Point(1, 2)], {3: "c"}))
    assert defaults == WithDefaults([Point(1, 2)], {3: "c"})
    assert type(defaults.items[0]) is Point


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59),
        date(1, 1, 1),
        time(0, 0, 0, 1),
        timedelta(0),
        timedelta(microseconds=-1),
        timedelta(days=-5, seconds=3),
        timedelta.max,
        timedelta.min,
    ],
)
def test_temporal_values_are_exact(value: Any) -> None:
    back = roundtrip(value)
    assert back == value and type(back) is type(value)


def test_aware_datetime_keeps_its_offset() -> None:
    from datetime import timezone

    value = datetime(2024, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    back = roundtrip(value)
    assert back == value and back.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    "value",
    [
        uuid.UUID("2cdc6d18-f299-403f-9ecf-aff9e9bb14d1"),
        Decimal("0.1"),
        Decimal("-1E+30"),
        Decimal("NaN"),
        b"",
        b"\x00\xff" * 100,
        bytearray(b"ab"),
        Color.RED,
        Priority.LOW,
        set(),
        frozenset({(1, 2), (3, 4)}),
        (),
        (1, (2, (3,))),
        Pair(1, "x"),
        {(1, 2): {3: [4]}},
        {None: 1, 2: None},
        {Color.RED: 1, Priority.HIGH: 2},
        2**63,
        2**64,
        -(2**63) - 1,
        10**40,
        -0.0,
        PurePosixPath("/tmp/x"),
        {"__polos__": "x"},
        {"nested": {"__polos__": "bytes", "v": "AAAA"}},
        [{"__polos__": "int", "v": "1"}],
        "\u00e9\u4e2d\U0001f600",
    ],
    ids=repr,
)
def test_assorted_values_roundtrip(value: Any) -> None:
    back = roundtrip(value)
    if isinstance(value, Decimal) and value.is_nan():
        assert back.is_nan()
    else:
        assert back == value
    if isinstance(value, PurePosixPath):
        assert isinstance(back, PurePosixPath)
    else:
        assert type(back) is type(value)


def test_decimal_keeps_precision() -> None:
    value = Decimal("3.141592653589793238462643383279502884197")
    assert str(roundtrip(value)) == str(value)


def test_dict_key_types_survive() -> None:
    back = roundtrip({1: "a", "1": "b", (1,): "c"})
    assert back == {1: "a", "1": "b", (1,): "c"}
    assert {type(k) for k in back} == {int, str, tuple}


def test_str_and_int_subclasses_become_their_base() -> None:
    class Name(str):
        pass

    back = roundtrip(Name("ada"))
    assert back == "ada" and type(back) is str


def test_none_and_plain_json() -> None:
    assert serialization.loads(None) is None
    assert roundtrip(None) is None
    assert roundtrip({"a": [1, 2.5, "x", None, True, False]}) == {
        "a": [1, 2.5, "x", None, True, False]
    }


# values that cannot be stored --------------------------------------------------------
def test_class_defined_inside_a_function_fails_at_encode() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(SerializationError, match="inside a function"):
        serialization.dumps(Local(1))

    class LocalModel(BaseModel):
        x: int

    with pytest.raises(SerializationError, match="inside a function"):
        serialization.dumps({"nested": [LocalModel(x=1)]})

    class LocalEnum(Enum):
        A = 1

    with pytest.raises(SerializationError, match="inside a function"):
        serialization.dumps(LocalEnum.A)


@pytest.mark.parametrize(
    "value, type_name",
    [
        (object(), "builtins.object"),
        (threading.Lock(), "lock"),
        (1 + 2j, "complex"),
        ({"deep": [1, {2: object()}]}, "builtins.object"),
        (lambda: 1, "function"),
    ],
)
def test_unstorable_values_fail_at_encode_naming_the_type(value: Any, type_name: str) -> None:
    with pytest.raises(SerializationError, match=type_name):
        serialization.dumps(value)


def test_self_referencing_value_is_a_serialization_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError):
        serialization.dumps(loop)


def test_string_with_lone_surrogate_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError):
        serialization.dumps({"text": "bad \ud800 surrogate"})


def test_unknown_class_on_decode() -> None:
    text = '{"__polos__": "dataclass", "c": "nowhere_module:Gone", "v": {"x": 1}}'
    with pytest.raises(SerializationError, match="nowhere_module:Gone"):
        serialization.loads(text)
    assert serialization.loads(text, strict=False) == {"x": 1}


def test_unknown_tag_on_decode() -> None:
    with pytest.raises(SerializationError, match="unknown stored type tag"):
        serialization.loads('{"__polos__": "from-the-future", "v": 1}')


def test_older_encodings_still_decode() -> None:
    # timedelta as float seconds, and a model stored as its JSON-mode dict
    assert serialization.loads('{"__polos__": "timedelta", "v": 1.5}') == timedelta(seconds=1.5)
    text = (
        '{"__polos__": "model", "c": "core_workflows:Address", '
        '"v": {"street": "s", "zipCode": "z"}}'
    )
    assert serialization.loads(text) == Address(street="s", zipCode="z")


# end to end -------------------------------------------------------------------------
async def test_step_outputs_replay_as_the_same_types(polos: Polos) -> None:
    tag = uuid.uuid4().hex
    result = await core_types_replay.run(polos, tag, timeout=20)
    assert result["attempt"] >= 2, "the workflow should have replayed after its wait"
    mismatched = {name: result["types"][name] for name, ok in result["same"].items() if not ok}
    assert mismatched == {}, f"steps replayed with other types or values: {mismatched}"
    assert all(calls(tag, name) == 1 for name in SAMPLES), "a recorded step ran again"
    # the result itself went through the store too
    for name, value in SAMPLES.items():
        assert same_value(result["values"][name], value), name


@pytest.mark.parametrize(
    "kind, type_name", [("object", "object"), ("lock", "lock"), ("socket", "socket")]
)
async def test_unstorable_step_output_fails_at_that_step(
    polos: Polos, kind: str, type_name: str
) -> None:
    tag = uuid.uuid4().hex
    try:
        result = await core_unstorable_caught.run(polos, {"tag": tag, "kind": kind}, timeout=10)
    finally:
        for sock in OPEN_SOCKETS:
            sock.close()
        OPEN_SOCKETS.clear()
    caught = result["caught"]
    assert caught["step_key"] == "make_value"
    assert caught["error_type"] == "SerializationError"
    assert "'make_value'" in caught["message"] and type_name in caught["message"]
    assert result["after"] == SAMPLES["plain_json"]
    # on replay the recorded failure is raised again, without running the step again
    assert result["attempt"] >= 2
    assert calls(tag, "unstorable") == 1
    info = await polos.get_execution((await polos.list_executions())[0].id)
    failed_step = next(s for s in info.steps if s.step_key == "make_value")
    assert failed_step.error is not None and failed_step.error["type"] == "SerializationError"


async def test_unstorable_step_output_fails_the_run(polos: Polos) -> None:
    tag = uuid.uuid4().hex
    handle = await core_unstorable_uncaught.invoke(polos, {"tag": tag, "kind": "lock"})
    with pytest.raises(WorkflowFailedError) as err:
        await handle.result(timeout=10)
    assert err.value.error["type"] == "StepExecutionError"
    assert "make_value" in err.value.error["message"] and "lock" in err.value.error["message"]
    info = await handle.get()
    assert info.status == "failed"
    assert info.error is not None
    assert "make_value" in info.error["message"] and "lock" in info.error["message"]
    assert CALLS[f"{tag}:unstorable"] == 1  # deterministic: never retried


async def test_unstorable_workflow_result_fails_the_run(polos: Polos) -> None:
    with pytest.raises(WorkflowFailedError) as err:
        await core_unstorable_result.run(polos, timeout=10)
    assert err.value.error["type"] == "SerializationError"
    assert "core_unstorable_result" in err.value.error["message"]
    assert "lock" in err.value.error["message"]


class AllowExtra(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class TagAliased(BaseModel):
    """A field whose stored key is the serializer's own tag (absurd, but allowed)."""

    model_config = ConfigDict(populate_by_name=True)
    tag: str = Field(alias="__polos__")
    when: datetime


def test_models_with_extra_fields_or_a_tag_named_key_round_trip() -> None:
    extra = AllowExtra(name="a", when=datetime(2026, 1, 2, tzinfo=UTC), tags={"x", "y"})
    back = serialization.loads(serialization.dumps(extra))
    assert type(back) is AllowExtra and back.model_extra == extra.model_extra
    assert back.model_extra is not None and back.model_extra["tags"] == {"x", "y"}

    aliased = TagAliased(tag="model", when=datetime(2026, 1, 2, tzinfo=UTC))
    back = serialization.loads(serialization.dumps(aliased))
    assert type(back) is TagAliased and back == aliased
    assert type(back.when) is datetime
