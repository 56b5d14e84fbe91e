"""``polos purge``: delete finished runs older than a cutoff, on the database itself.

Whole run trees go (a root with every run under it), only once every run of
the tree has finished; queued, running and waiting runs are never touched.
The purge goes in batches of short transactions, so workers on the same
database keep running (see :mod:`polos.engine.retention`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console

from ..durations import parse_duration
from ..engine.retention import DEFAULT_BATCH, purge
from ..errors import PolosError
from ..runtime.client import PolosClient
from ..store.retention import PURGEABLE, PurgeCount, check_statuses

console = Console()


def purge_command(
    older_than: str = typer.Option(
        ...,
        "--older-than",
        help="Purge runs finished longer ago than this: 30d, 12h, 90m, 1w...",
    ),
    status: str = typer.Option(
        ",".join(sorted(PURGEABLE)),
        "--status",
        help="Only trees whose root ended so (comma-separated): completed, failed, cancelled",
    ),
    workflow: str | None = typer.Option(
        None, "--workflow", help="Only trees whose root ran this workflow"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; delete nothing"),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object"),
    batch: int = typer.Option(
        DEFAULT_BATCH, "--batch", min=1, help="Run trees deleted per transaction"
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", "-d", envvar="POLOS_DATABASE_URL", help="Database URL"
    ),
    project_id: str | None = typer.Option(
        None, "--project-id", envvar="POLOS_PROJECT_ID", help="The project's own database"
    ),
) -> None:
    """Delete finished runs (with their children, steps, history and events) older
    than --older-than; waiting, queued and running runs are never touched."""
    try:
        age = parse_duration(older_than)
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    try:
        statuses = check_statuses([s.strip() for s in status.split(",") if s.strip()])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from None
    cutoff = time.time() - age

    async def run() -> PurgeCount:
        async with PolosClient(None, None, project_id, database_url=database_url) as client:
            return await purge(
                client.store,
                cutoff,
                statuses=statuses,
                workflow_id=workflow,
                batch=batch,
                dry_run=dry_run,
            )

    began = time.monotonic()
    try:
        counted = asyncio.run(run())
    except PolosError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    took = time.monotonic() - began
    before = datetime.fromtimestamp(cutoff, UTC).isoformat(timespec="seconds")
    if as_json:
        report: dict[str, Any] = {
            "dry_run": dry_run,
            "finished_before": before,
            "statuses": statuses,
            "workflow_id": workflow,
            **asdict(counted),
            "seconds": round(took, 3),
        }
        print(json.dumps(report), flush=True)
        return
    if dry_run:
        console.print(
            f"would purge {counted.trees} run tree(s) finished before {before}: "
            f"{counted.executions} run(s), with their steps, history and events "
            f"(counted in {took:.1f}s)",
            highlight=False,
        )
        return
    console.print(
        f"purged {counted.trees} run tree(s) finished before {before}: "
        f"{counted.executions} run(s), {counted.steps} step(s), "
        f"{counted.history} history entries, {counted.events} event(s) in {took:.1f}s",
        highlight=False,
    )
