"""Cron schedules: validation, tick arithmetic, and firing due ticks exactly once.

Catch-up policy: when ticks were missed (no worker ran at their time), only
the most recent missed tick fires, once, with ``missed_ticks`` telling how
many older ones were skipped; the schedule then continues from the next tick
after now. Every tick fires at most once however many workers run: firing
advances the schedule with a compare-and-set on its ``next_fire_at``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from .. import serialization
from ..errors import WorkflowDefinitionError
from ..store import Store
from ..store.records import NewExecution, ScheduleRow
from ..types import SchedulePayload
from .definition import queue_name_of

_MAX_COUNTED_MISSES = 10_000


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    cron: str
    timezone: str = "UTC"
    key: str = "global"


def parse_schedule(value: Any, workflow_id: str) -> ScheduleSpec | None:
    """``@workflow(schedule=...)``: a cron string, a dict, ``True`` (no default) or ``None``."""
    if value is None or value is False or value is True:
        return None
    if isinstance(value, str):
        spec = ScheduleSpec(value)
    elif isinstance(value, dict):
        unknown = set(value) - {"cron", "timezone", "key"}
        if unknown or "cron" not in value:
            raise WorkflowDefinitionError(
                f"schedule of workflow {workflow_id!r} must be a cron string or "
                f"{{'cron', 'timezone', 'key'}}, got {value!r}"
            )
        spec = ScheduleSpec(value["cron"], value.get("timezone", "UTC"), value.get("key", "global"))
    else:
        raise WorkflowDefinitionError(f"schedule of workflow {workflow_id!r} cannot be {value!r}")
    validate(spec.cron, spec.timezone)
    return spec


def validate(cron: str, timezone: str) -> ZoneInfo:
    if not isinstance(cron, str) or not isinstance(timezone, str):
        raise WorkflowDefinitionError(
            f"a schedule needs a cron string and a timezone name, got {cron!r} and {timezone!r}"
        )
    return _validated(cron, timezone)


@functools.lru_cache(maxsize=256)  # next_tick calls it per tick: check each schedule once
def _validated(cron: str, timezone: str) -> ZoneInfo:
    if not croniter.is_valid(cron):
        raise WorkflowDefinitionError(
            f"malformed cron expression {cron!r}; use five fields 'minute hour day month weekday' "
            "(e.g. '0 9 * * *'), or six with seconds first"
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise WorkflowDefinitionError(
            f"unknown timezone {timezone!r}; use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None
    try:
        # Well-formed is not enough: '0 0 31 2 *' (31 February) never fires, and
        # croniter only says so, as a bare CroniterBadDateError, at the first tick.
        croniter(cron, datetime.now(zone)).get_next(float)
    except CroniterError:
        raise WorkflowDefinitionError(
            f"cron expression {cron!r} never fires (no matching date, e.g. a day that its "
            "months do not have); check the day-of-month and month fields"
        ) from None
    return zone


def next_tick(cron: str, timezone: str, after: float) -> float:
    zone = validate(cron, timezone)
    start = datetime.fromtimestamp(after, zone)
    return float(croniter(cron, start).get_next(float))


def schedule_row(workflow_id: str, spec: ScheduleSpec, now: float) -> ScheduleRow:
    return ScheduleRow(
        schedule_id=f"{workflow_id}:{spec.key}",
        workflow_id=workflow_id,
        key=spec.key,
        cron=spec.cron,
        timezone=spec.timezone,
        next_fire_at=next_tick(spec.cron, spec.timezone, now),
        last_fire_at=None,
        created_at=now,
        updated_at=now,
    )


async def fire_due(store: Store, now: float) -> float | None:
    """Fire every timer, run deadline and schedule tick due by ``now`` (each
    exactly once across processes); return when the next one is due."""
    due = await store.next_timer_at()
    if due is not None and due <= now:
        await store.fire_due_timers(now)
        await store.expire_deadlines(now)
        await fire_due_schedules(store, now)
        due = await store.next_timer_at()
    return due


async def fire_due_schedules(store: Store, now: float) -> int:
    fired = 0
    for schedule in await store.due_schedules(now):
        tick, missed, upcoming = _catch_up(schedule, now)
        payload = SchedulePayload(
            timestamp=_dt(tick),
            last_timestamp=_dt(schedule.last_fire_at) if schedule.last_fire_at else None,
            timezone=schedule.timezone,
            schedule_id=schedule.schedule_id,
            key=schedule.key,
            upcoming=_dt(upcoming),
            missed_ticks=missed,
        )
        execution = NewExecution(
            id=str(uuid.uuid4()),
            workflow_id=schedule.workflow_id,
            payload=serialization.dumps(payload),
            created_at=now,
            queue_name=queue_name_of(schedule.workflow_id),
            schedule_id=schedule.schedule_id,
        )
        if await store.fire_schedule(
            schedule.schedule_id, schedule.next_fire_at, upcoming, tick, execution, now
        ):
            fired += 1
    return fired


def _catch_up(schedule: ScheduleRow, now: float) -> tuple[float, int, float]:
    """(the tick to fire, how many older ticks were skipped, the next tick after now)."""
    tick, missed = schedule.next_fire_at, 0
    following = next_tick(schedule.cron, schedule.timezone, tick)
    while following <= now and missed < _MAX_COUNTED_MISSES:
        tick, missed = following, missed + 1
        following = next_tick(schedule.cron, schedule.timezone, tick)
    if following <= now:  # too many to count one by one: jump to the present
        following = next_tick(schedule.cron, schedule.timezone, now)
    return tick, missed, following


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
