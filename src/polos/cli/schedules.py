"""``polos schedules list|create|delete``: cron schedules of workflows, from a shell.

The same operations as :mod:`polos.schedules` (so they work on the database
and through a server with ``--api-url``). A schedule is ``(workflow, key)``;
creating one that exists changes its cron and timezone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from .. import schedules as schedules_api
from ..engine.schedules import validate
from ..errors import PolosError, WorkflowDefinitionError
from ..runtime.client import PolosClient
from .app import (
    ApiKey,
    ApiUrl,
    AsJson,
    DatabaseUrl,
    _print_json,
    _print_table,
    _with_client,
    app,
    fail,
)

schedules_app = typer.Typer(
    no_args_is_help=True,
    help="Cron schedules of workflows: list, create (or change), delete.",
)
app.add_typer(schedules_app, name="schedules")

Key = typer.Option("global", "--key", help="Which schedule of the workflow (one per key)")


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds") if at else ""


@schedules_app.command("list")
def list_schedules(
    workflow: str = typer.Option(None, "--workflow", "-w", help="Only this workflow's"),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Every schedule: workflow, key, cron, timezone, next and last run."""
    rows = _with_client(database_url, lambda c: schedules_api.list(c, workflow), api_url, api_key)
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("schedule id", "workflow", "key", "cron", "timezone", "next run", "last run")
    for r in rows:
        table.add_row(
            r.schedule_id,
            r.workflow_id,
            r.key,
            r.cron,
            r.timezone,
            _when(r.next_fire_at),
            _when(r.last_fire_at),
        )
    _print_table(table)


@schedules_app.command("create")
def create_schedule(
    workflow: str = typer.Argument(..., help="The workflow id to run on the schedule"),
    cron: str = typer.Option(
        ..., "--cron", help="Five fields: minute hour day month weekday ('0 9 * * 1-5')"
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone name (Europe/Paris)"),
    key: str = Key,
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Create the schedule (WORKFLOW, --key), or change its cron and timezone; prints its id."""
    try:
        validate(cron, timezone)
    except WorkflowDefinitionError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cron / --timezone") from None

    async def action(client: PolosClient) -> Any:
        from ..runtime.remote import RemotePolosClient

        if not isinstance(client, RemotePolosClient):
            await client.start()
            if not await client.store.known_workflows([workflow]):
                known = sorted(await client.store.all_workflows())
                raise PolosError(
                    f"no worker has served a workflow {workflow!r} on this database, so the "
                    f"schedule would start runs nobody takes; known: {', '.join(known) or 'none'}"
                )
        schedule_id = await schedules_api.create(client, workflow, cron, timezone, key)
        return schedule_id, await schedules_api.get(client, workflow, key)

    schedule_id, info = _with_client(database_url, action, api_url, api_key)
    if as_json:
        _print_json(info.model_dump(mode="json") if info else {"schedule_id": schedule_id})
    else:
        print(schedule_id, flush=True)


@schedules_app.command("delete")
def delete_schedule(
    workflow: str = typer.Argument(..., help="The workflow id"),
    key: str = Key,
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Delete the schedule (WORKFLOW, --key); no such schedule is an error (exit 1)."""
    deleted = _with_client(
        database_url, lambda c: schedules_api.delete(c, workflow, key), api_url, api_key
    )
    if not deleted:
        raise fail(f"no schedule {key!r} of workflow {workflow!r} (see polos schedules list)")
    if as_json:
        _print_json({"workflow_id": workflow, "key": key, "deleted": True})
    else:
        print(f"deleted schedule {workflow}:{key}", flush=True)
