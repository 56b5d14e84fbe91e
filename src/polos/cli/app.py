"""``polos``: a thin command line over ``PolosClient`` and ``Worker``.

Every command takes ``--database-url`` (default: ``POLOS_DATABASE_URL``, else
the embedded ``./.polos/polos.db``). JSON arguments (payloads, resume data,
event data) are parsed strictly: bad JSON is an error naming the option.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ..errors import PolosError
from ..runtime.client import PolosClient

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Run Polos workers; inspect, cancel and resume executions; publish events. "
    "--database-url defaults to POLOS_DATABASE_URL, else ./.polos/polos.db.",
)
console = Console()
DatabaseUrl = typer.Option(
    None, "--database-url", "-d", envvar="POLOS_DATABASE_URL", help="Database URL"
)


def main() -> None:
    app()


def _json(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"not valid JSON ({exc.msg} at position {exc.pos})", param_hint=option
        ) from None


def _with_client(database_url: str | None, action: Callable[[PolosClient], Awaitable[T]]) -> T:
    async def run() -> T:
        async with PolosClient(database_url=database_url) as client:
            return await action(client)

    try:
        return asyncio.run(run())
    except PolosError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


@app.command()
def worker(
    modules: list[str] = typer.Argument(
        ..., help="Modules defining the workflows and agents to serve"
    ),
    database_url: str | None = DatabaseUrl,
    concurrency: int = typer.Option(100, help="max_concurrent_workflows"),
) -> None:
    """Import MODULES and serve their workflows until SIGINT/SIGTERM."""
    from ..runtime.worker import Worker, wait_for_signal

    sys.path.insert(0, ".")
    for name in modules:
        importlib.import_module(name)

    async def serve() -> None:
        running = Worker(database_url=database_url, max_concurrent_workflows=concurrency)
        await running.start()
        names = ", ".join(sorted(running.definitions))
        print(
            f"worker {running.worker_id} serving on {running.store.description}: {names}",
            flush=True,
        )
        try:
            await wait_for_signal()
        finally:
            await running.stop()

    asyncio.run(serve())


@app.command()
def invoke(
    workflow_id: str,
    payload: str = typer.Option(None, "--payload", "-p", help="JSON payload"),
    wait: bool = typer.Option(False, help="Wait for the result and print it"),
    timeout: float = typer.Option(600.0, help="Seconds to wait with --wait"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Queue a run of WORKFLOW_ID (and, with --wait, print its result)."""
    data = _json(payload, "--payload")

    async def action(client: PolosClient) -> Any:
        handle = await client.invoke(workflow_id, data)
        return await client.wait_for_result(handle.id, timeout=timeout) if wait else handle.id

    _print_json(_with_client(database_url, action))


@app.command("list")
def list_executions(
    status: str = typer.Option(None, help="Only this status"),
    workflow: str = typer.Option(None, help="Only this workflow id"),
    limit: int = 20,
    database_url: str | None = DatabaseUrl,
) -> None:
    """The newest executions."""
    rows = _with_client(
        database_url, lambda c: c.list_executions(status=status, workflow_id=workflow, limit=limit)
    )
    table = Table("id", "workflow", "status", "created", "waiting on")
    for e in rows:
        table.add_row(
            e.id,
            e.workflow_id,
            e.status,
            e.created_at.isoformat(timespec="seconds"),
            e.waiting_on or "",
        )
    console.print(table)


@app.command()
def show(execution_id: str, database_url: str | None = DatabaseUrl) -> None:
    """One execution: status, result or error, steps and history."""
    info = _with_client(database_url, lambda c: c.get_execution(execution_id))
    console.print(
        f"[bold]{info.workflow_id}[/bold] {info.id}: [bold]{info.status}[/bold] (attempt {info.attempt})"
    )
    if info.result is not None or info.error is not None:
        _print_json({"result": info.result, "error": info.error})
    steps = Table("step", "kind", "attempt", "output / error")
    for s in info.steps:
        steps.add_row(
            s.step_key, s.kind, str(s.attempt), json.dumps(s.error or s.output, default=str)[:80]
        )
    console.print(steps)
    history = Table("at", "event", "attempt", "detail")
    for h in info.history:
        history.add_row(
            h.at.isoformat(timespec="milliseconds"),
            h.event,
            str(h.attempt),
            json.dumps(h.detail or {}),
        )
    console.print(history)


@app.command()
def cancel(execution_id: str, database_url: str | None = DatabaseUrl) -> None:
    """Cancel an execution and its children."""

    async def cancel_and_read(client: Any) -> Any:
        await client.cancel_execution(execution_id)
        return await client.get_execution(execution_id)

    info = _with_client(database_url, cancel_and_read)
    console.print(f"{info.id}: {info.status}")


@app.command()
def suspended(workflow: str = typer.Option(None), database_url: str | None = DatabaseUrl) -> None:
    """Runs waiting for a human, with what they show."""
    rows = _with_client(database_url, lambda c: c.list_suspended(workflow))
    table = Table("workflow", "execution", "step", "since", "data")
    for s in rows:
        table.add_row(
            s.workflow_id,
            s.execution_id,
            s.step_key,
            s.since.isoformat(timespec="seconds"),
            json.dumps(s.data, default=str),
        )
    console.print(table)


@app.command()
def resume(
    workflow_id: str,
    execution_id: str,
    step_key: str,
    data: str = typer.Option(None, "--data", help="JSON the workflow receives"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Resume a suspended run (a resume sent early is kept until it gets there)."""
    value = _json(data, "--data")
    _with_client(database_url, lambda c: c.resume(workflow_id, execution_id, step_key, value))
    console.print(f"resumed {execution_id} at {step_key}")


@app.command()
def publish(
    topic: str,
    data: str = typer.Option(None, "--data", help="JSON event data"),
    event_type: str = typer.Option(None, "--type"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Publish an event."""
    value = _json(data, "--data")
    event = _with_client(database_url, lambda c: c.publish(topic, value, event_type))
    console.print(f"published {event.topic} #{event.sequence_id}")


@app.command()
def queues(database_url: str | None = DatabaseUrl) -> None:
    """Queues: limits, and queued / running / waiting counts."""
    table = Table("queue", "limit", "rate", "queued", "running", "waiting")
    for q in _with_client(database_url, lambda c: c.queue_stats()):
        rate = f"{q.rate_limit}/{q.rate_period:g}s" if q.rate_limit and q.rate_period else ""
        table.add_row(
            q.name,
            str(q.concurrency_limit or ""),
            rate,
            str(q.queued),
            str(q.running),
            str(q.waiting),
        )
    console.print(table)
