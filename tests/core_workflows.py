"""Workflows, models and step functions shared by the durable-core tests.

Everything here is defined at module level, because stored values are rebuilt
by importing their class, and every workflow id starts with ``core_`` since
the workflow registry is process-wide. Step functions count their calls in
``CALLS`` under a per-test ``tag``, so that tests (and the two backends) never
see each other's counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import socket
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import BaseModel, Field

from polos import (
    DuplicateStepKeyError,
    FatalError,
    InsideWorkflowError,
    RetryableError,
    StepExecutionError,
    WorkflowContext,
    step,
    workflow,
)

# call counting -----------------------------------------------------------------------
CALLS: Counter[str] = Counter()
CALL_TIMES: defaultdict[str, list[float]] = defaultdict(list)
FLAGS: dict[str, bool] = {}
SEEN: dict[str, Any] = {}
MESSAGES: defaultdict[str, list[str]] = defaultdict(list)
OPEN_SOCKETS: list[socket.socket] = []


def hit(tag: str, name: str) -> int:
    """Count one call of ``name`` under ``tag``; returns the count so far."""
    CALLS[f"{tag}:{name}"] += 1
    CALL_TIMES[f"{tag}:{name}"].append(time.monotonic())
    return CALLS[f"{tag}:{name}"]


def calls(tag: str, name: str) -> int:
    return CALLS[f"{tag}:{name}"]


# types that must survive a round trip -------------------------------------------------
class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    zip_code: str = Field(alias="zipCode")


class Customer(BaseModel):
    name: str
    address: Address
    tags: set[str]
    joined: datetime
    id: UUID
    balance: Decimal
    avatar: bytes
    color: Color
    score: float
    anything: Any = None


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass(frozen=True)
class Segment:
    start: Point
    end: Point
    label: str
    length: float = dataclasses.field(init=False, default=0.0)

    def __post_init__(self) -> None:
        dx, dy = self.end.x - self.start.x, self.end.y - self.start.y
        object.__setattr__(self, "length", math.hypot(dx, dy))


class Pair(NamedTuple):
    left: int
    right: str


SAMPLE_UUID = UUID("12345678-1234-5678-1234-567812345678")

SAMPLES: dict[str, Any] = {
    "model": Customer(
        name="Ada",
        address=Address(street="1 Loop St", zipCode="12345"),
        tags={"vip", "beta"},
        joined=datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC),
        id=SAMPLE_UUID,
        balance=Decimal("1234.5678"),
        avatar=b"\x89PNG\xff\x00",
        color=Color.BLUE,
        score=float("nan"),
        anything={"when": date(2024, 1, 2), "ids": {1, 2}},
    ),
    "dataclass": Point(1, 2),
    "frozen_nested_dataclass": Segment(Point(0, 0), Point(3, 4), "hypotenuse"),
    "datetime_aware": datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC),
    "datetime_naive": datetime(2024, 5, 17, 12, 30),
    "date": date(2024, 2, 29),
    "time": dtime(23, 59, 59, 999),
    "timedelta": timedelta(days=3, seconds=7, microseconds=11),
    "timedelta_huge": timedelta(days=365 * 400, microseconds=7),
    "uuid": SAMPLE_UUID,
    "decimal": Decimal("12345.678901234567890123"),
    "bytes": bytes(range(256)),
    "bytearray": bytearray(b"\x00mutable\xff"),
    "enum": Color.BLUE,
    "int_enum": Priority.HIGH,
    "set": {1, 2, 3},
    "frozenset": frozenset({"a", "b"}),
    "tuple": (1, "two", 3.0),
    "nested_tuple": ((1, 2), [3, (4,)]),
    "namedtuple": Pair(7, "seven"),
    "non_str_keys": {1: "one", (2, 3): "pair", 4.5: "float", Color.RED: "enum"},
    "big_int": 2**100,
    "negative_big_int": -(2**80),
    "nan": float("nan"),
    "inf": float("inf"),
    "negative_inf": float("-inf"),
    "polos_key_dict": {"__polos__": "datetime", "v": "not a date"},
    "nested_mixed": {"points": [Point(1, 1)], "when": {date(2020, 1, 1)}, "c": Color.RED},
    "plain_json": {"a": [1, 2.5, "x", None, True]},
}


def same_value(a: Any, b: Any) -> bool:
    """Deep equality that also demands the same types (and treats NaN as equal)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, BaseModel):
        return same_value(dict(a.__dict__), dict(b.__dict__))
    if dataclasses.is_dataclass(a):
        return all(
            same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    return bool(a == b)


async def produce(tag: str, name: str) -> Any:
    hit(tag, name)
    return SAMPLES[name]


@workflow(id="core_types_replay")
async def core_types_replay(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    values = {}
    for name in SAMPLES:
        values[name] = await ctx.step.run(f"value:{name}", produce, tag, name)
    await ctx.step.wait_for("pause", seconds=0.2)
    return {
        "attempt": ctx.attempt,
        "same": {name: same_value(values[name], SAMPLES[name]) for name in SAMPLES},
        "types": {name: type(values[name]).__qualname__ for name in SAMPLES},
        "values": values,
    }


# values that cannot be stored ---------------------------------------------------------
def make_unstorable(kind: str) -> Any:
    if kind == "object":
        return object()
    if kind == "lock":
        return threading.Lock()
    if kind == "socket":
        sock = socket.socket()
        OPEN_SOCKETS.append(sock)
        return sock
    raise ValueError(kind)


async def unstorable_step(tag: str, kind: str) -> Any:
    hit(tag, "unstorable")
    return make_unstorable(kind)


@workflow(id="core_unstorable_caught")
async def core_unstorable_caught(ctx: WorkflowContext, spec: dict[str, str]) -> dict[str, Any]:
    try:
        await ctx.step.run("make_value", unstorable_step, spec["tag"], spec["kind"])
        caught: dict[str, Any] = {}
    except StepExecutionError as exc:
        caught = {"step_key": exc.step_key, "error_type": exc.error_type, "message": str(exc)}
    after = await ctx.step.run("after", produce, spec["tag"], "plain_json")
    await ctx.step.wait_for("pause", seconds=0.2)
    return {"caught": caught, "after": after, "attempt": ctx.attempt}


@workflow(id="core_unstorable_uncaught")
async def core_unstorable_uncaught(ctx: WorkflowContext, spec: dict[str, str]) -> str:
    await ctx.step.run("make_value", unstorable_step, spec["tag"], spec["kind"])
    return "unreachable"


@workflow(id="core_unstorable_result")
async def core_unstorable_result(ctx: WorkflowContext) -> Any:
    return threading.Lock()


# payload sizes -----------------------------------------------------------------------
def make_text(size: int) -> str:
    return "x" * size


@workflow(id="core_big_output")
async def core_big_output(ctx: WorkflowContext, size: int) -> dict[str, Any]:
    small = await ctx.step.run("small", make_text, 10)
    try:
        await ctx.step.run("big_output", make_text, size)
    except StepExecutionError as exc:
        return {"small": small, "step_key": exc.step_key, "error_type": exc.error_type}
    return {"small": small, "step_key": None}


@workflow(id="core_echo")
async def core_echo(ctx: WorkflowContext, payload: Any) -> Any:
    return payload


# step keys -------------------------------------------------------------------------
async def step_value(tag: str, name: str) -> str:
    hit(tag, name)
    return f"{name}-value"


async def other_step_value(tag: str, name: str) -> str:
    hit(tag, f"other:{name}")
    return f"{name}-other"


async def set_flag(tag: str) -> str:
    hit(tag, "set_flag")
    FLAGS[tag] = True
    return "flag set"


@workflow(id="core_duplicate_key")
async def core_duplicate_key(ctx: WorkflowContext, spec: dict[str, str]) -> Any:
    tag, mode = spec["tag"], spec["mode"]
    if mode == "run_run":
        await ctx.step.run("same", step_value, tag, "first")
        await ctx.step.run("same", step_value, tag, "second")
    elif mode == "uuid_run":
        await ctx.step.uuid("same")
        await ctx.step.run("same", step_value, tag, "second")
    elif mode == "caught":
        await ctx.step.run("same", step_value, tag, "first")
        try:
            await ctx.step.run("same", step_value, tag, "second")
        except DuplicateStepKeyError as exc:
            return {"caught": str(exc), "key": exc.step_key}
    elif mode == "gather":
        await asyncio.gather(
            ctx.step.run("same", step_value, tag, "first"),
            ctx.step.run("same", step_value, tag, "second"),
        )
    return "no error"


@workflow(id="core_keys_shift")
async def core_keys_shift(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    inserted = None
    if FLAGS.get(tag):  # "new code": a step added in front of the recorded ones
        inserted = await ctx.step.run("inserted", step_value, tag, "inserted")
    a = await ctx.step.run("a", step_value, tag, "a")
    flag = await ctx.step.run("deploy", set_flag, tag)
    await ctx.step.wait_for("pause", seconds=0.2)
    b = await ctx.step.run("b", step_value, tag, "b")
    return {"inserted": inserted, "a": a, "flag": flag, "b": b, "attempt": ctx.attempt}


@workflow(id="core_nondeterminism")
async def core_nondeterminism(ctx: WorkflowContext, spec: dict[str, str]) -> Any:
    tag, change = spec["tag"], spec["change"]
    if not FLAGS.get(tag):
        await ctx.step.run("k", set_flag, tag)
    elif change == "kind":
        await ctx.step.uuid("k")
    elif change == "function":
        await ctx.step.run("k", other_step_value, tag, "k")
    await ctx.step.wait_for("pause", seconds=0.2)
    return "replayed without noticing"


@workflow(id="core_bad_key")
async def core_bad_key(ctx: WorkflowContext) -> str:
    await ctx.step.run("", identity, 1)
    return "no error"


# replay ------------------------------------------------------------------------------
def sync_step_value(tag: str, name: str) -> dict[str, Any]:
    hit(tag, name)
    return {"name": name, "thread": threading.current_thread() is not threading.main_thread()}


@workflow(id="core_replay_counter")
async def core_replay_counter(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    a = await ctx.step.run("a", step_value, tag, "a")
    b = await ctx.step.run("b", sync_step_value, tag, "b")
    await ctx.step.wait_for("pause1", seconds=0.1)
    c = await ctx.step.run("c", step_value, tag, "c")
    await ctx.step.wait_for("pause2", seconds=0.1)
    d = await ctx.step.run("d", step_value, tag, "d")
    return {"a": a, "b": b, "c": c, "d": d, "attempt": ctx.attempt}


async def capture(tag: str, u: str, n: datetime, r: float) -> None:
    hit(tag, "capture")
    SEEN[tag] = (u, n, r)


@workflow(id="core_fixed_values")
async def core_fixed_values(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    u = await ctx.step.uuid("u")
    n = await ctx.step.now("n")
    r = await ctx.step.random("r")
    await ctx.step.run("capture", capture, tag, u, n, r)
    await ctx.step.wait_for("pause", seconds=0.2)
    return {"u": u, "n": n, "r": r, "attempt": ctx.attempt}


IN_FLIGHT: dict[str, int] = defaultdict(int)
MAX_IN_FLIGHT: dict[str, int] = defaultdict(int)


async def slow_square(tag: str, i: int) -> int:
    hit(tag, f"square{i}")
    IN_FLIGHT[tag] += 1
    MAX_IN_FLIGHT[tag] = max(MAX_IN_FLIGHT[tag], IN_FLIGHT[tag])
    try:
        await asyncio.sleep(0.02 * (5 - i))  # later indexes finish first
        return i * i
    finally:
        IN_FLIGHT[tag] -= 1


@workflow(id="core_gather")
async def core_gather(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    squares = await asyncio.gather(*(ctx.step.run(f"sq{i}", slow_square, tag, i) for i in range(5)))
    await ctx.step.wait_for("pause", seconds=0.2)
    more = await asyncio.gather(
        ctx.step.run("after0", step_value, tag, "after0"),
        ctx.step.run("after1", step_value, tag, "after1"),
    )
    return {"squares": list(squares), "more": list(more), "attempt": ctx.attempt}


# retries ---------------------------------------------------------------------------
class RetrySpec(BaseModel):
    tag: str
    fail_times: int = 1000
    error: str = "plain"  # plain | fatal | retryable
    retry_after: float | str | None = None
    max_retries: int = 2
    base_delay: float = 0.01
    max_delay: float = 10.0


def flaky(spec: RetrySpec) -> str:
    n = hit(spec.tag, "flaky")
    if n <= spec.fail_times:
        if spec.error == "fatal":
            raise FatalError(f"fatal failure #{n}")
        if spec.error == "retryable":
            raise RetryableError(f"try later #{n}", retry_after=spec.retry_after)
        raise ConnectionError(f"transient failure #{n}")
    return f"succeeded on call {n}"


@workflow(id="core_retry")
async def core_retry(ctx: WorkflowContext, spec: RetrySpec) -> dict[str, Any]:
    try:
        value = await ctx.step.run(
            "flaky",
            flaky,
            spec,
            max_retries=spec.max_retries,
            base_delay=spec.base_delay,
            max_delay=spec.max_delay,
        )
    except StepExecutionError as exc:
        return {
            "ok": None,
            "step_key": exc.step_key,
            "error_type": exc.error_type,
            "error_message": exc.error_message,
            "attempts": exc.attempts,
        }
    return {"ok": value}


@workflow(id="core_retry_uncaught")
async def core_retry_uncaught(ctx: WorkflowContext, spec: RetrySpec) -> str:
    value: str = await ctx.step.run(
        "flaky", flaky, spec, max_retries=spec.max_retries, base_delay=spec.base_delay
    )
    return value


@workflow(id="core_error_replay")
async def core_error_replay(ctx: WorkflowContext, spec: RetrySpec) -> dict[str, Any]:
    caught = False
    try:
        await ctx.step.run("doomed", flaky, spec, max_retries=1, base_delay=0.01)
    except StepExecutionError as exc:
        caught = True
        MESSAGES[spec.tag].append(str(exc))
    await ctx.step.wait_for("pause", seconds=0.2)
    return {"caught": caught, "attempt": ctx.attempt}


# @step ----------------------------------------------------------------------------
@step
async def send_email(tag: str, to: str) -> str:
    hit(tag, f"send_email:{to}")
    return f"sent to {to}"


@step
def sync_add(a: int, b: int) -> int:
    return a + b


@step(max_retries=3, retry_delay=0.01)
def decorated_flaky(tag: str) -> str:
    n = hit(tag, "decorated_flaky")
    if n < 3:
        raise ConnectionError(f"flaky #{n}")
    return f"ok after {n}"


@step(max_retries=1, retry_delay="10ms")
async def decorated_always_fails(tag: str) -> str:
    n = hit(tag, "decorated_always_fails")
    raise ConnectionError(f"down #{n}")


@step(key="renamed_step")
async def original_name(tag: str) -> str:
    hit(tag, "renamed")
    return "renamed result"


class Mailer:
    def __init__(self, sender: str) -> None:
        self.sender = sender

    @step
    async def deliver(self, tag: str, to: str) -> str:
        hit(tag, f"deliver:{to}")
        return f"{self.sender} -> {to}"


@workflow(id="core_decorated")
async def core_decorated(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    first = await send_email(tag, "a@x")
    second = await send_email(tag, "b@x")
    explicit = await send_email.with_key("explicit_email")(tag, "c@x")
    third = await send_email(tag, "d@x")
    renamed = await original_name(tag)
    total = await sync_add(2, 3)
    await ctx.step.wait_for("pause", seconds=0.2)
    fourth = await send_email(tag, "e@x")
    return {
        "results": [first, second, explicit, third, renamed, total, fourth],
        "attempt": ctx.attempt,
    }


@workflow(id="core_decorated_gather")
async def core_decorated_gather(ctx: WorkflowContext, tag: str) -> list[str]:
    sent = await asyncio.gather(*(send_email(tag, f"user{i}") for i in range(4)))
    await ctx.step.wait_for("pause", seconds=0.2)
    return list(sent)


@workflow(id="core_decorated_retry")
async def core_decorated_retry(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    ok = await decorated_flaky(tag)
    try:
        await decorated_always_fails(tag)
        failed: dict[str, Any] = {}
    except StepExecutionError as exc:
        failed = {"step_key": exc.step_key, "attempts": exc.attempts, "type": exc.error_type}
    return {"ok": ok, "failed": failed}


@workflow(id="core_decorated_method")
async def core_decorated_method(ctx: WorkflowContext, tag: str) -> list[str]:
    mailer = Mailer("ops@x")
    one = await mailer.deliver(tag, "a@x")
    two = await mailer.deliver(tag, "b@x")
    keyed = await mailer.deliver.with_key("keyed_delivery")(tag, "c@x")
    return [one, two, keyed]


# client API --------------------------------------------------------------------------
class OrderInput(BaseModel):
    order_id: str
    quantity: int
    placed_at: datetime


class OrderOutput(BaseModel):
    order_id: str
    total: Decimal
    input_type: str


@workflow(id="core_order")
async def core_order(ctx: WorkflowContext, order: OrderInput) -> OrderOutput:
    return OrderOutput(
        order_id=order.order_id,
        total=Decimal("2.50") * order.quantity,
        input_type=type(order).__qualname__,
    )


@workflow(id="core_no_payload")
async def core_no_payload(ctx: WorkflowContext) -> str:
    return f"ran {ctx.workflow_id}"


@workflow(id="core_long_wait")
async def core_long_wait(ctx: WorkflowContext) -> str:
    await ctx.step.wait_for("long", seconds=30)
    return "woke"


@workflow(id="core_fails")
async def core_fails(ctx: WorkflowContext, n: int) -> None:
    await ctx.step.run("ok_first", make_text, 3)
    raise ValueError(f"boom {n}")


def ctx_fields(ctx: WorkflowContext) -> dict[str, Any]:
    return {
        "execution_id": ctx.execution_id,
        "workflow_id": ctx.workflow_id,
        "session_id": ctx.session_id,
        "user_id": ctx.user_id,
        "parent_execution_id": ctx.parent_execution_id,
        "root_execution_id": ctx.root_execution_id,
        "root_workflow_id": ctx.root_workflow_id,
        "created_at": ctx.created_at,
        "started_at": ctx.started_at,
        "attempt": ctx.attempt,
        "retry_count": ctx.retry_count,
    }


def identity(value: Any) -> Any:
    return value


@workflow(id="core_ctx_fields")
async def core_ctx_fields(ctx: WorkflowContext) -> dict[str, Any]:
    first = await ctx.step.run("first_fields", identity, ctx_fields(ctx))
    await ctx.step.wait_for("pause", seconds=0.2)
    return {"first": first, "replay": ctx_fields(ctx)}


@workflow(id="core_inside")
async def core_inside(ctx: WorkflowContext) -> dict[str, str]:
    errors = {}
    try:
        await core_echo.run({"nested": True})
        errors["run"] = "no error"
    except InsideWorkflowError as exc:
        errors["run"] = str(exc)
    try:
        await core_echo.invoke(None, {"nested": True})
        errors["invoke"] = "no error"
    except InsideWorkflowError as exc:
        errors["invoke"] = str(exc)
    return errors


@workflow(id="core_wait_until")
async def core_wait_until(ctx: WorkflowContext, at: datetime) -> float:
    await ctx.step.wait_until("until", at)
    return time.time()


@workflow(id="core_wait_string")
async def core_wait_string(ctx: WorkflowContext, duration: str) -> float:
    await ctx.step.wait_for("nap", duration)
    return time.time()


async def fake_charge(tag: str, idempotency_key: str) -> str:
    hit(tag, "charge")
    SEEN[tag] = idempotency_key
    return f"charged with {idempotency_key}"


@workflow(id="core_idempotency")
async def core_idempotency(ctx: WorkflowContext, tag: str) -> dict[str, Any]:
    before = ctx.step.idempotency_key("charge")
    receipt = await ctx.step.run("charge", fake_charge, tag, before)
    await ctx.step.wait_for("pause", seconds=0.2)
    return {
        "before": before,
        "receipt": receipt,
        "after": ctx.step.idempotency_key("charge"),
        "other": ctx.step.idempotency_key("refund"),
        "attempt": ctx.attempt,
    }


async def _nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@workflow(id="core_gathered_naps")
async def core_gathered_naps(ctx: WorkflowContext) -> list[float]:
    return list(
        await asyncio.gather(ctx.step.run("nap_a", _nap, 0.3), ctx.step.run("nap_b", _nap, 0.3))
    )
