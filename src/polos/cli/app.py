"""``polos``: a thin command line over ``PolosClient`` and ``Worker``.

Every command takes ``--database-url`` (default: ``POLOS_DATABASE_URL``, else
the embedded ``./.polos/polos.db``); the client commands (invoke, list, show,
cancel, resume, publish) take ``--api-url`` / ``--api-key`` instead, to go
through a ``polos server`` (see :mod:`polos.runtime.remote`). JSON arguments (payloads, resume data,
event data) are parsed strictly: bad JSON is an error naming the option.

Made for scripts too: ids print bare on stdout, ``--json`` prints one JSON
document, errors go to stderr with a non-zero exit, and an execution id may be
any unique prefix of one (see :mod:`.ids`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import PolosError
from ..runtime.client import PolosClient
from ..store import Store

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Run Polos workers; inspect, cancel and resume executions; publish events. "
    "--database-url defaults to POLOS_DATABASE_URL, else ./.polos/polos.db.",
)
console = Console()
#: Errors go here, so ``ID=$(polos invoke ...)`` never captures one as an id.
err_console = Console(stderr=True, soft_wrap=True)
DatabaseUrl = typer.Option(
    None, "--database-url", "-d", envvar="POLOS_DATABASE_URL", help="Database URL"
)

ApiUrl = typer.Option(
    None,
    "--api-url",
    help="A polos server's address (http://host:port): go through its HTTP API instead of "
    "the database",
)
ApiKey = typer.Option(
    None, "--api-key", envvar="POLOS_API_KEY", help="The server's API key (with --api-url)"
)


AsJson = typer.Option(False, "--json", help="Print one JSON document (for programs)")
#: How long a one-shot command retries an unreachable PostgreSQL before it says so
#: (a worker keeps the URL's retry_seconds, 60 s by default, to ride out a restart).
ONE_SHOT_RETRY_SECONDS = 3.0


def main() -> None:
    app()


def _version_callback(value: bool) -> None:
    if value:
        from ..distribution import DISTRIBUTION, package_version

        print(f"{DISTRIBUTION} {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the installed version and exit",
    ),
) -> None:
    """Run Polos workers; inspect, cancel and resume executions; publish events."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; the ``typer.Exit`` to raise."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def one_shot_store(database_url: str | None) -> Store:
    """The store of a command that does one thing and exits: on PostgreSQL it gives
    up on an unreachable server after a few seconds (unless the URL sets
    ``retry_seconds``), rather than the minute a worker waits through."""
    from ..store import resolve_database_url, store_from_url

    url = resolve_database_url(database_url)
    if url.startswith(("postgres://", "postgresql://")) and "retry_seconds=" not in url:
        from ..store.postgres import PostgresStore

        return PostgresStore(url, retry_seconds=ONE_SHOT_RETRY_SECONDS)
    return store_from_url(url)


def _explain(exc: PolosError) -> str:
    """The error's message, with what to check when the database is out of reach."""
    from ..errors import StoreUnavailableError

    if isinstance(exc, StoreUnavailableError):
        return (
            f"{exc}\n(the database comes from --database-url, else POLOS_DATABASE_URL; "
            "check the host, port and credentials, and that the server is up)"
        )
    return str(exc)


def _json(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"not valid JSON ({exc.msg} at position {exc.pos})", param_hint=option
        ) from None


def _with_client(
    database_url: str | None,
    action: Callable[[PolosClient], Awaitable[T]],
    api_url: str | None = None,
    api_key: str | None = None,
) -> T:
    async def run() -> T:
        if api_url is not None:
            from ..runtime.remote import RemotePolosClient

            client: PolosClient = RemotePolosClient(api_url, api_key)
        else:
            client = PolosClient(database_url=database_url, store=one_shot_store(database_url))
        async with client:
            return await action(client)

    try:
        return asyncio.run(run())
    except PolosError as exc:
        raise fail(_explain(exc)) from None


async def _get_execution(client: PolosClient, typed: str) -> Any:
    """``get_execution`` of the run a typed id (or unique prefix) names."""
    from .ids import resolve_execution_id

    return await client.get_execution(await resolve_execution_id(client, typed))


async def _follow(client: PolosClient, typed: str, go: Callable[[str], Awaitable[T]]) -> T:
    """``go(whole id)`` once the typed id (or unique prefix) is resolved."""
    from .ids import resolve_execution_id

    return await go(await resolve_execution_id(client, typed))


def _print_json(value: Any) -> None:
    """One JSON document on stdout, plain (no colours: programs read it)."""
    print(json.dumps(value, default=str, ensure_ascii=False), flush=True)


def _print_table(table: Table) -> None:
    """A table whose cells are never cut: piped (no terminal width) or on a narrow
    terminal it is printed as wide as its widest row, so ids stay whole."""
    needed = Console(width=10_000).measure(table).maximum
    Console(width=max(console.width, needed), highlight=False).print(table)


WorkerLogLevel = typer.Option(
    "info",
    "--log-level",
    envvar="POLOS_LOG_LEVEL",
    help="Lowest level logged: debug, info, warning, error or critical",
)
LogFormat = typer.Option(
    "text",
    "--log-format",
    envvar="POLOS_LOG_FORMAT",
    help="text (one readable line per event) or json (one JSON object per line)",
)


def _configure_logs(level: str, fmt: str) -> None:
    from ..observability.logs import check_format, check_level, configure_logging

    try:
        check_level(level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None
    try:
        check_format(fmt)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from None
    configure_logging(level, fmt)


@app.command()
def worker(
    modules: list[str] = typer.Argument(
        ...,
        help="What defines the workflows and agents to serve: a module (my_flows, "
        "pkg.flows), a file (flows/my_flows.py) or module:attr (my_flows:agent)",
    ),
    database_url: str | None = DatabaseUrl,
    concurrency: int = typer.Option(100, help="max_concurrent_workflows"),
    log_level: str = WorkerLogLevel,
    log_format: str = LogFormat,
    as_json: bool = typer.Option(False, "--json", help="Print the serving line as one JSON object"),
) -> None:
    """Import MODULES (modules, files or module:attr) and serve their workflows until
    SIGINT/SIGTERM.

    Logs each run's start, end (completed, failed with its error, waiting),
    step retries and recoveries on stderr; see docs/observability.md."""
    from ..runtime.worker import Worker, wait_for_signal
    from .loading import LoadError, load_target

    _configure_logs(log_level, log_format)
    for target in modules:
        try:
            load_target(target)
        except LoadError as exc:
            raise fail(str(exc)) from None

    async def serve() -> None:
        running = Worker(database_url=database_url, max_concurrent_workflows=concurrency)
        await running.start()
        if as_json:
            _print_json(
                {
                    "worker_id": running.worker_id,
                    "database": running.store.description,
                    "workflows": sorted(running.definitions),
                }
            )
        else:
            names = ", ".join(sorted(running.definitions))
            print(
                f"worker {running.worker_id} serving on {running.store.description}: {names}",
                flush=True,
            )
        try:
            await wait_for_signal()
        finally:
            await running.stop()

    try:
        asyncio.run(serve())
    except PolosError as exc:
        raise fail(_explain(exc)) from None


@app.command()
def invoke(
    workflow_id: str,
    payload: str = typer.Option(None, "--payload", "-p", help="JSON payload"),
    wait: bool = typer.Option(False, help="Wait for the result and print it"),
    timeout: float = typer.Option(600.0, help="Seconds to wait with --wait"),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Queue a run of WORKFLOW_ID and print its id, bare (ID=$(polos invoke ...) works);
    with --wait, print its result as JSON instead."""
    data = _json(payload, "--payload")

    async def action(client: PolosClient) -> tuple[str, Any]:
        from .payloads import check_payload

        await check_payload(client, workflow_id, data)
        handle = await client.invoke(workflow_id, data)
        result = await client.wait_for_result(handle.id, timeout=timeout) if wait else None
        return handle.id, result

    execution_id, result = _with_client(database_url, action, api_url, api_key)
    if as_json:
        shown: dict[str, Any] = {"execution_id": execution_id, "workflow_id": workflow_id}
        if wait:
            shown["result"] = result
        _print_json(shown)
    elif wait:
        _print_json(result)
    else:
        print(execution_id, flush=True)


@app.command("list")
def list_executions(
    status: str = typer.Option(
        None, help="Only this status: queued, running, waiting, completed, failed, cancelled"
    ),
    workflow: str = typer.Option(None, help="Only this workflow id"),
    limit: int = typer.Option(20, min=1, help="At most this many, newest first"),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """The newest executions (whole ids, never cut)."""
    from ..store.vocabulary import Status

    statuses = [s.value for s in Status]
    if status is not None and status not in statuses:
        raise typer.BadParameter(
            f"unknown status {status!r}; one of: {', '.join(statuses)}", param_hint="--status"
        )
    rows = _with_client(
        database_url,
        lambda c: c.list_executions(status=status, workflow_id=workflow, limit=limit),
        api_url,
        api_key,
    )
    if as_json:
        _print_json([e.model_dump(mode="json", exclude={"steps", "history"}) for e in rows])
        return
    table = Table("id", "workflow", "status", "created", "waiting on")
    for e in rows:
        table.add_row(
            e.id,
            e.workflow_id,
            # a run only a worker of its deployment may take, and none is live
            f"{e.status} (no worker for {e.deployment_id})"
            if e.deployment_served is False
            else e.status,
            e.created_at.isoformat(timespec="seconds"),
            e.waiting_on or "",
        )
    _print_table(table)


@app.command()
def show(
    execution_id: str,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object (steps with started_at, duration_seconds)"
    ),
) -> None:
    """One execution: status, times, result or error, each step with its duration and
    whole output, and its history."""
    from .render import execution_json, render

    info = _with_client(database_url, lambda c: _get_execution(c, execution_id), api_url, api_key)
    now = datetime.now(UTC)
    if as_json:
        print(json.dumps(execution_json(info, now), indent=2, default=str, ensure_ascii=False))
        return
    console.print(render(info, now))


@app.command()
def watch(
    execution_id: str,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
    interval: float = typer.Option(0.5, help="Seconds between two looks at the run"),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON line (as show --json) each time the run changes"
    ),
) -> None:
    """Follow one execution live (steps, durations, history) until it ends.

    Exits 0 once it completed, 1 if it failed or was cancelled."""
    if not interval > 0:
        raise typer.BadParameter(f"must be above 0, got {interval}", param_hint="--interval")
    from .watch import follow, follow_json

    def go(c: PolosClient, whole: str) -> Awaitable[str]:
        return follow_json(c, whole, interval) if as_json else follow(c, whole, interval, console)

    status = _with_client(
        database_url,
        lambda c: _follow(c, execution_id, lambda whole: go(c, whole)),
        api_url,
        api_key,
    )
    raise typer.Exit(0 if status == "completed" else 1)


@app.command()
def cancel(
    execution_id: str,
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Cancel an execution (any unique id prefix) and its children; a run that has
    already finished is an error (exit 1), left as it was."""
    from ..store.vocabulary import FINAL_STATUSES
    from .ids import resolve_execution_id

    async def cancel_and_read(client: PolosClient) -> Any:
        whole = await resolve_execution_id(client, execution_id)
        before = await client.get_execution(whole)
        if before.status in FINAL_STATUSES:
            return before, False
        await client.cancel_execution(whole)
        return await client.get_execution(whole), True

    info, cancelled = _with_client(database_url, cancel_and_read, api_url, api_key)
    if not cancelled or info.status != "cancelled":
        raise fail(
            f"execution {info.id} is already {info.status}; only a queued, running or "
            "waiting run can be cancelled (polos retry starts a failed one again)"
        )
    if as_json:
        _print_json({"execution_id": info.id, "status": info.status})
    else:
        print(f"{info.id}: {info.status}", flush=True)


@app.command()
def suspended(
    workflow: str = typer.Option(None),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
) -> None:
    """Runs waiting for a human, with what they show."""
    rows = _with_client(database_url, lambda c: c.list_suspended(workflow))
    if as_json:
        _print_json([s.model_dump(mode="json") for s in rows])
        return
    table = Table("workflow", "execution", "step", "since", "data")
    for s in rows:
        table.add_row(
            s.workflow_id,
            s.execution_id,
            s.step_key,
            s.since.isoformat(timespec="seconds"),
            json.dumps(s.data, default=str),
        )
    _print_table(table)


@app.command()
def resume(
    workflow_id: str,
    execution_id: str,
    step_key: str,
    data: str = typer.Option(None, "--data", help="JSON the workflow receives"),
    early: bool = typer.Option(
        False,
        "--early",
        help="Keep the resume for a step the run has not reached yet, even while it is "
        "suspended at another one",
    ),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Resume a suspended run (EXECUTION_ID: any unique prefix) at STEP_KEY.

    A run suspended at another step is an error naming the step it waits at
    (a mistyped key would leave it suspended); a resume sent before the run
    gets to a suspend is kept until it does."""
    from .ids import resolve_execution_id
    from .resuming import check_resume

    value = _json(data, "--data")

    async def action(client: PolosClient) -> tuple[str, bool]:
        whole = await resolve_execution_id(client, execution_id)
        info = await client.get_execution(whole)
        at_step = check_resume(info, step_key, early=early)
        await client.resume(workflow_id, whole, step_key, value)
        return whole, at_step

    whole, at_step = _with_client(database_url, action, api_url, api_key)
    if as_json:
        _print_json({"execution_id": whole, "step_key": step_key, "delivered": at_step})
    elif at_step:
        print(f"resumed {whole} at {step_key}", flush=True)
    else:
        # Not suspended there itself: kept for when it (or a child, addressed through
        # its root) suspends at that step.
        print(f"sent the resume of {whole} at {step_key}: kept until it suspends there", flush=True)


@app.command()
def publish(
    topic: str,
    data: str = typer.Option(None, "--data", help="JSON event data"),
    event_type: str = typer.Option(None, "--type"),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    api_url: str | None = ApiUrl,
    api_key: str | None = ApiKey,
) -> None:
    """Publish an event."""
    value = _json(data, "--data")
    event = _with_client(
        database_url, lambda c: c.publish(topic, value, event_type), api_url, api_key
    )
    if as_json:
        _print_json(event.model_dump(mode="json"))
    else:
        print(f"published {event.topic} #{event.sequence_id}", flush=True)


@app.command()
def queues(as_json: bool = AsJson, database_url: str | None = DatabaseUrl) -> None:
    """Queues: limits, queued / running / waiting counts, and concurrency keys in use."""
    # The table shows no keys: count them, list none (a queue may have a million).
    stats = _with_client(database_url, lambda c: c.queue_stats(None if as_json else 0))
    if as_json:
        _print_json([q.model_dump(mode="json") for q in stats])
        return
    table = Table("queue", "limit", "rate", "queued", "running", "waiting", "keys")
    for q in stats:
        rate = f"{q.rate_limit}/{q.rate_period:g}s" if q.rate_limit and q.rate_period else ""
        table.add_row(
            q.name,
            str(q.concurrency_limit or ""),
            rate,
            str(q.queued),
            str(q.running),
            str(q.waiting),
            str(q.key_count),  # concurrency keys with active runs ('' counts as one)
        )
    _print_table(table)


# the HTTP server --------------------------------------------------------------------
_SERVER_EXTRA = "pip install 'polos-durable[server]'"


def _server_settings(
    database_url: str | None,
    host: str,
    port: int,
    public_url: str | None,
    webhook_secrets: list[str],
    project_id: str | None = None,
) -> Any:
    try:
        from ..server import settings as server_settings
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in ("starlette", "uvicorn", "watchfiles", "jinja2"):
            console.print(
                f"[red]error:[/red] the HTTP server needs the server extra ({missing} is not "
                f"installed): {escape(_SERVER_EXTRA)}"
            )
            raise typer.Exit(1) from None
        raise
    try:
        secrets = {
            **server_settings.webhook_secrets_from_env(),
            **server_settings.parse_webhook_option(webhook_secrets),
        }
    except PolosError as exc:
        raise typer.BadParameter(str(exc), param_hint="--webhook-secret") from None
    return server_settings.ServerSettings(
        database_url=database_url,
        host=host,
        port=port,
        public_url=public_url,
        webhook_secrets=secrets,
        project_id=project_id,
    )


Host = typer.Option("127.0.0.1", "--host", help="Address to listen on")
Port = typer.Option(8080, "--port", "-p", help="Port to listen on")
PublicUrl = typer.Option(
    None,
    "--public-url",
    envvar="POLOS_APPROVAL_BASE_URL",
    help="Where people reach this server (approval links); default http://HOST:PORT",
)
WebhookSecret = typer.Option(
    [],
    "--webhook-secret",
    help="WORKFLOW_ID=SECRET: that workflow's webhook must be signed (HMAC-SHA256); "
    "*=SECRET for every workflow. Also POLOS_WEBHOOK_SECRETS (a JSON object).",
)
LogLevel = typer.Option("info", "--log-level", help="uvicorn's log level")
ProjectId = typer.Option(
    None,
    "--project-id",
    envvar="POLOS_PROJECT_ID",
    help="The project: its own SQLite file or PostgreSQL schema; API keys belong to one",
)


def _run_server(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except PolosError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@app.command()
def server(
    database_url: str | None = DatabaseUrl,
    host: str = Host,
    port: int = Port,
    public_url: str | None = PublicUrl,
    webhook_secret: list[str] = WebhookSecret,
    log_level: str = LogLevel,
    project_id: str | None = ProjectId,
) -> None:
    """Serve the HTTP API, event streams, approval pages and webhooks over the database.

    On an address other than 127.0.0.1 / localhost it starts only once an API key
    exists (polos keys create); once one exists, every request needs a key."""
    settings = _server_settings(database_url, host, port, public_url, webhook_secret, project_id)
    from ..server.run import serve

    _run_server(lambda: serve(settings, log_level=log_level))


@app.command()
def dev(
    modules: list[str] = typer.Argument(..., help="Modules defining your workflows and agents"),
    database_url: str | None = DatabaseUrl,
    host: str = Host,
    port: int = Port,
    public_url: str | None = PublicUrl,
    webhook_secret: list[str] = WebhookSecret,
    concurrency: int = typer.Option(100, help="The worker's max_concurrent_workflows"),
    watch: list[str] = typer.Option([], "--watch", help="Folders to watch (default: here)"),
    log_level: str = LogLevel,
    project_id: str | None = ProjectId,
    log_format: str = LogFormat,
) -> None:
    """The server plus a worker for MODULES, restarted whenever a .py file changes."""
    settings = _server_settings(database_url, host, port, public_url, webhook_secret, project_id)
    level = "debug" if log_level == "trace" else log_level  # uvicorn's "trace" is our debug
    _configure_logs(level, log_format)
    # The worker is a child process (polos worker): it logs as told here.
    os.environ["POLOS_LOG_LEVEL"], os.environ["POLOS_LOG_FORMAT"] = level, log_format
    from pathlib import Path

    from ..server.dev import run_dev

    _run_server(
        lambda: run_dev(
            modules,
            settings,
            concurrency=concurrency,
            watch=[Path(w) for w in watch],
            log_level=log_level,
        )
    )


keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys of polos server: create (shown once), list, revoke. Stored hashed in the "
    "database; a server on it needs one per request once any exists.",
)
app.add_typer(keys_app, name="keys")


def _with_store(
    database_url: str | None, project_id: str | None, action: Callable[[Any], Awaitable[T]]
) -> T:
    async def run() -> T:
        async with PolosClient(None, None, project_id, database_url=database_url) as client:
            return await action(client.store)

    try:
        return asyncio.run(run())
    except PolosError as exc:
        raise fail(_explain(exc)) from None


@keys_app.command("create")
def keys_create(
    name: str = typer.Option("default", "--name", help="What the key is for (shown in lists)"),
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    project_id: str | None = ProjectId,
) -> None:
    """Create a key and print it (only now: the database keeps its hash)."""
    import time

    from ..store.api_keys import new_api_key

    key, row = new_api_key(project_id or "default", name, time.time())
    _with_store(database_url, project_id, lambda store: store.create_api_key(row))
    if as_json:
        _print_json({"key_id": row.key_id, "name": name, "project_id": row.project_id, "key": key})
        return
    console.print(f"created API key {row.key_id} ({escape(name)}) for project {row.project_id}")
    console.print("send it as 'Authorization: Bearer <key>'; it is shown only this once:")
    print(key, flush=True)


@keys_app.command("list")
def keys_list(
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    project_id: str | None = ProjectId,
) -> None:
    """Every key (never the secret): id, name, project, created, revoked."""
    from datetime import UTC, datetime

    def when(at: float | None) -> str:
        return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds") if at else ""

    rows = _with_store(database_url, project_id, lambda store: store.list_api_keys())
    if as_json:
        _print_json(
            [
                {
                    "key_id": r.key_id,
                    "name": r.name,
                    "project_id": r.project_id,
                    "created_at": when(r.created_at),
                    "revoked_at": when(r.revoked_at) or None,
                }
                for r in rows
            ]
        )
        return
    table = Table("key id", "name", "project", "created", "revoked")
    for r in rows:
        table.add_row(r.key_id, r.name, r.project_id, when(r.created_at), when(r.revoked_at))
    _print_table(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str,
    as_json: bool = AsJson,
    database_url: str | None = DatabaseUrl,
    project_id: str | None = ProjectId,
) -> None:
    """Revoke KEY_ID: requests with it get 401 from then on."""
    import time

    done = _with_store(
        database_url, project_id, lambda store: store.revoke_api_key(key_id, time.time())
    )
    if not done:
        raise fail(f"no active key {key_id} (see polos keys list)")
    if as_json:
        _print_json({"key_id": key_id, "revoked": True})
    else:
        print(f"revoked {key_id}", flush=True)


# polos purge (retention) lives in its own module.
from .purge import purge_command  # noqa: E402

app.command("purge")(purge_command)

# polos retry / fork / retry-failed (operating failed runs) register themselves on app.
# polos schedules and polos init register themselves on app.
from . import init as _init  # noqa: E402, F401
from . import operations as _operations  # noqa: E402, F401
from . import schedules as _schedules  # noqa: E402, F401
