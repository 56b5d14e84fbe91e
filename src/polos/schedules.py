"""Cron schedules for workflows, managed at run time.

``@workflow(schedule="0 9 * * *")`` creates a schedule when a worker starts;
``schedules.create`` adds or updates one from code. See
:mod:`polos.engine.schedules` for the catch-up policy.
"""

from __future__ import annotations

import builtins
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from .engine.schedules import ScheduleSpec, schedule_row, validate
from .runtime.client import store_of
from .runtime.remote import remote_client
from .store.records import ScheduleRow


class ScheduleInfo(BaseModel):
    schedule_id: str
    workflow_id: str
    key: str
    cron: str
    timezone: str
    next_fire_at: datetime
    last_fire_at: datetime | None = None


async def create(
    client: Any, workflow: Any, cron: str, timezone: str = "UTC", key: str = "global"
) -> str:
    """Create the schedule ``(workflow, key)``, or update its cron and timezone;
    returns its id (as Polos does). ``schedules.get`` reads it back."""
    validate(cron, timezone)
    workflow_id = workflow if isinstance(workflow, str) else workflow.id
    if (remote := remote_client(client)) is not None:
        return await remote.create_schedule(workflow_id, cron, timezone, key)
    store = await store_of(client)
    # The client's clock (a test's TestClock, say) sets the first tick, as the worker's does.
    clock = getattr(getattr(client, "client", client), "clock", None)
    now = clock.now() if clock is not None else time.time()
    row = await store.upsert_schedule(
        schedule_row(workflow_id, ScheduleSpec(cron, timezone, key), now)
    )
    return row.schedule_id


async def get(client: Any, workflow: Any, key: str = "global") -> ScheduleInfo | None:
    """The schedule ``(workflow, key)``: its cron, timezone and next fire time."""
    workflow_id = workflow if isinstance(workflow, str) else workflow.id
    return next((s for s in await list(client, workflow_id) if s.key == key), None)


async def list(client: Any, workflow: Any = None) -> builtins.list[ScheduleInfo]:
    workflow_id = workflow if workflow is None or isinstance(workflow, str) else workflow.id
    if (remote := remote_client(client)) is not None:
        return [_remote_info(s) for s in await remote.list_schedules(workflow_id)]
    store = await store_of(client)
    return [_info(r) for r in await store.list_schedules(workflow_id)]


async def delete(client: Any, workflow: Any, key: str = "global") -> bool:
    """Delete the schedule ``(workflow, key)``; ``False`` when there was none."""
    workflow_id = workflow if isinstance(workflow, str) else workflow.id
    if (remote := remote_client(client)) is not None:
        return await remote.delete_schedule(workflow_id, key)
    store = await store_of(client)
    deleted: bool = await store.delete_schedule(f"{workflow_id}:{key}")
    return deleted


def _info(row: ScheduleRow) -> ScheduleInfo:
    return ScheduleInfo(
        schedule_id=row.schedule_id,
        workflow_id=row.workflow_id,
        key=row.key,
        cron=row.cron,
        timezone=row.timezone,
        next_fire_at=datetime.fromtimestamp(row.next_fire_at, UTC),
        last_fire_at=datetime.fromtimestamp(row.last_fire_at, UTC) if row.last_fire_at else None,
    )


def _remote_info(schedule: dict[str, Any]) -> ScheduleInfo:
    """A schedule as ``GET /api/v1/schedules`` shows it."""
    return ScheduleInfo(
        schedule_id=schedule["schedule_id"],
        workflow_id=schedule["workflow_id"],
        key=schedule["key"],
        cron=schedule["cron"],
        timezone=schedule["timezone"],
        next_fire_at=schedule["next_run_at"],
        last_fire_at=schedule["last_run_at"],
    )
