"""``polos retry``, ``polos fork`` and ``polos retry-failed``: operating failed runs.

Registered on the one ``app`` of :mod:`.app` (imported at its end). Each prints
the ids of the runs it started, bare, one per line (so ``ID=$(polos fork ...)``
works), or one JSON document with ``--json``; a refusal (a run that is not
failed or cancelled, a step key the run did not record) exits 1 naming it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from ..durations import parse_duration
from ..runtime.client import PolosClient
from .app import ApiKey, ApiUrl, DatabaseUrl, _json, _with_client, app
from .ids import resolve_execution_id

AsJson = typer.Option(False, "--json", help="Print one JSON document instead of bare ids")


def _when(value: str | None, option: str, now: datetime) -> datetime | None:
    """An ISO 8601 time, or a duration ("2h", "30m", "1d") meaning that long ago."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            return now - timedelta(seconds=parse_duration(value))
        except (TypeError, ValueError):
            raise typer.BadParameter(
                f"{value!r} is neither an ISO 8601 time (2026-01-31T12:00:00Z) nor a "
                "duration before now (2h, 30m, 1d)",
                param_hint=option,
            ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command()
def retry(
    execution_id: str,
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Start a failed or cancelled run (any unique id prefix) again from its first
    unfinished step (same id):
    recorded steps replay, failed steps run anew."""

    async def action(client: PolosClient) -> Any:
        return await client.retry_execution(await resolve_execution_id(client, execution_id))

    handle = _with_client(database_url, action, api_url, api_key)
    if as_json:
        print(json.dumps({"execution_id": handle.id, "workflow_id": handle.workflow_id}))
    else:
        print(handle.id)


@app.command()
def fork(
    execution_id: str,
    from_step: str = typer.Option(
        ..., "--from-step", help="The recorded step to run anew; the steps before it replay"
    ),
    payload: str = typer.Option(None, "--payload", "-p", help="JSON payload (default: the run's)"),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Start a new run of EXECUTION_ID's workflow that reuses the steps recorded before
    --from-step and runs the rest anew; prints the new run's id."""
    data = _json(payload, "--payload")

    async def action(client: PolosClient) -> Any:
        source = await resolve_execution_id(client, execution_id)
        return await client.fork_execution(source, from_step, data)

    handle = _with_client(database_url, action, api_url, api_key)
    if as_json:
        print(
            json.dumps(
                {"execution_id": handle.id, "forked_from": execution_id, "from_step": from_step}
            )
        )
    else:
        print(handle.id)


@app.command("retry-failed")
def retry_failed(
    workflow: str = typer.Option(None, "--workflow", "-w", help="Only runs of this workflow"),
    since: str = typer.Option(
        None, help="Failed at or after: an ISO 8601 time, or a duration ago (2h, 1d)"
    ),
    until: str = typer.Option(None, help="Failed before: an ISO 8601 time, or a duration ago"),
    error: str = typer.Option(None, "--error", help="Only runs whose error holds this text"),
    limit: int = typer.Option(1000, help="At most this many runs, oldest failure first"),
    all_failed: bool = typer.Option(
        False, "--all", help="Retry every failed run (needed when no filter is given)"
    ),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Retry every failed run that matches the filters; prints the ids retried."""
    if not (workflow or since or until or error or all_failed):
        raise typer.BadParameter(
            "give --workflow, --since, --until or --error (or --all to retry every failed run)",
            param_hint="filters",
        )
    if limit < 1:
        raise typer.BadParameter(f"must be at least 1, got {limit}", param_hint="--limit")
    now = datetime.now(UTC)
    start, end = _when(since, "--since", now), _when(until, "--until", now)
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(
            f"--until ({end.isoformat()}) must be later than --since ({start.isoformat()})",
            param_hint="--until",
        )

    async def action(client: PolosClient) -> Any:
        return await client.retry_failed(
            workflow, since=start, until=end, error_contains=error, limit=limit
        )

    handles = _with_client(database_url, action, api_url, api_key)
    if as_json:
        print(json.dumps([{"execution_id": h.id, "workflow_id": h.workflow_id} for h in handles]))
    else:
        for h in handles:
            print(h.id)
