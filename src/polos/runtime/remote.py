"""``PolosClient`` over a ``polos server``'s HTTP API (a remote client).

``PolosClient(api_url="http://host:8080", api_key=...)`` with no database URL
is a :class:`RemotePolosClient`: the same methods, with the same results as
the direct-database client, each one an HTTP request (the key goes as
``Authorization: Bearer``). Results, payloads and event data cross the wire
as JSON, so a workflow result that is a model comes back as a dict (as it
does for Polos's own client). A worker needs the database: a remote client
starts and watches runs, it does not run them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic_core import to_jsonable_python

from ..engine.run import DEFAULT_MAX_PAYLOAD_BYTES
from ..errors import (
    ConfigurationError,
    ExecutionNotFoundError,
    ExecutionNotRetryableError,
    PolosError,
    UnknownStepKeyError,
    WorkflowNotFoundError,
    WorkflowTimeoutError,
)
from ..observability.tracing import current_traceparent
from ..store import FINAL_STATUSES, Store
from ..types import (
    BatchWorkflowInput,
    EventData,
    EventPayload,
    ExecutionHandle,
    QueueStats,
    StreamEvent,
    SuspendInfo,
    check_topic,
    suspend_topic,
)
from .client import PolosClient, _outcome
from .current import forbid_inside_workflow
from .models import ExecutionInfo, HistoryEntry, StepInfo
from .settings import remote_api_url

_POLL_MIN, _POLL_MAX = 0.02, 0.5
_PAGE = 1000
#: Seconds an idle pooled connection to the server is kept (httpx's default is 5).
KEEPALIVE_EXPIRY = 4.0


def wants_remote(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``PolosClient(*args, **kwargs)`` addresses a server (see
    :func:`polos.runtime.settings.remote_api_url`)."""
    if kwargs.get("store") is not None:
        return False
    api_url = args[0] if args else kwargs.get("api_url")
    return remote_api_url(api_url, kwargs.get("database_url")) is not None


def remote_client(client: Any) -> RemotePolosClient | None:
    """The remote client behind a ``PolosClient`` or a ``Polos``, or None."""
    target = getattr(client, "client", client)
    return target if isinstance(target, RemotePolosClient) else None


class RemoteError(PolosError):
    """The server refused a request; ``status`` and ``error_type`` say how."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status} {error_type})")
        self.status = status
        self.error_type = error_type
        self.message = message


class RemotePolosClient(PolosClient):
    """A ``PolosClient`` whose every call goes to a ``polos server`` over HTTP."""

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        project_id: str | None = None,
        deployment_id: str | None = None,
        *,
        database_url: str | None = None,
        store: Store | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        timeout: float = 30.0,
    ) -> None:
        import os

        # Made directly (not through PolosClient), it is remote whatever
        # POLOS_DATABASE_URL says: the command line's --api-url does this.
        url = remote_api_url(api_url, database_url, database_env=False)
        if url is None or store is not None:
            raise ConfigurationError(
                "a remote client needs an api_url other than http://localhost:8080 "
                "(the embedded default) and no database_url or store"
            )
        self.api_url = url
        self.api_key = api_key or os.environ.get("POLOS_API_KEY") or None
        self.project_id = project_id or os.environ.get("POLOS_PROJECT_ID") or None
        self.deployment_id: str | None = (
            deployment_id or os.environ.get("POLOS_DEPLOYMENT_ID") or None
        )
        #: A remote client has no database of its own (its server has).
        self.database_url = ""
        self.max_payload_bytes = max_payload_bytes
        self.timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    # connection ----------------------------------------------------------------------
    @property
    def store(self) -> Store:
        raise ConfigurationError(self._no_database("the store"))

    def _no_database(self, what: str) -> str:
        return (
            f"{what} needs the database, and this client talks to the server at "
            f"{self.api_url} over HTTP; pass database_url= (or POLOS_DATABASE_URL) to use "
            "the database directly"
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.project_id:
            headers["X-Project-ID"] = self.project_id
        return headers

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop or self._http.is_closed:
            self._http = httpx.AsyncClient(
                base_url=self.api_url,
                headers=self._headers(),
                timeout=self.timeout,
                # Idle connections are dropped well before a server or proxy
                # closes them (ours keeps them 75 s, common proxies 60 s), so a
                # request never goes out on a connection being closed under it.
                limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
            )
            self._http_loop = loop
        return self._http

    async def start(self) -> None:
        self._client()

    async def close(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            if self._http_loop is asyncio.get_running_loop():
                await http.aclose()

    async def _ready(self) -> Store:
        raise ConfigurationError(self._no_database("this operation"))

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        try:
            response = await self._client().request(
                method,
                path,
                json=json_body,
                params={k: v for k, v in (params or {}).items() if v is not None},
            )
        except httpx.HTTPError as exc:
            raise PolosError(f"the Polos server at {self.api_url} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json()

    # submitting -----------------------------------------------------------------------
    async def batch_invoke(
        self,
        workflows: Sequence[BatchWorkflowInput],
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> list[ExecutionHandle]:
        forbid_inside_workflow("batch_invoke()")
        if not workflows:
            return []
        body = {
            "workflows": [_run_item(item) for item in workflows],
            "session_id": session_id,
            "user_id": user_id,
            "deployment_id": self.deployment_id,
            # The caller's span, so the runs join its trace as a direct invoke's do.
            "otel_traceparent": current_traceparent(),
        }
        try:
            answer = await self._call("POST", "/api/v1/workflows/batch_run", json_body=body)
        except RemoteError as exc:
            if exc.error_type == "WORKFLOW_NOT_FOUND":
                raise WorkflowNotFoundError(exc.message) from None
            raise
        handles: list[ExecutionHandle] = []
        for item, run in zip(workflows, answer["executions"], strict=True):
            handles.append(
                ExecutionHandle(
                    id=run["execution_id"],
                    workflow_id=run["workflow_id"],
                    created_at=run["created_at"],
                    root_workflow_id=run["root_workflow_id"],
                    root_execution_id=run["root_execution_id"],
                    session_id=item.session_id or session_id,
                    user_id=item.user_id or user_id,
                ).bind(self)
            )
        return handles

    # queues ---------------------------------------------------------------------------
    async def queue_stats(self, max_keys: int | None = None) -> list[QueueStats]:
        raise ConfigurationError(self._no_database("queue_stats()"))

    # events and humans ---------------------------------------------------------------
    async def batch_publish(self, topic: str, events: Sequence[EventData]) -> list[EventPayload]:
        check_topic(topic)
        body = {
            "topic": topic,
            "events": [
                {"event_type": e.event_type, "data": to_jsonable_python(e.data, fallback=str)}
                for e in events
            ],
        }
        answer = await self._call("POST", "/api/v1/events/publish", json_body=body)
        return [
            EventPayload(
                id=event_id,
                sequence_id=seq,
                topic=topic,
                event_type=e.event_type,
                data=e.data,
                created_at=answer["created_at"],
            )
            for event_id, seq, e in zip(
                answer["event_ids"], answer["sequence_ids"], events, strict=True
            )
        ]

    async def resume(
        self,
        suspend_workflow_id: str,
        suspend_execution_id: str,
        suspend_step_key: str,
        data: Any = None,
    ) -> EventPayload:
        run = await self._execution(suspend_execution_id)
        if suspend_workflow_id not in (run["workflow_id"], run["root_workflow_id"]):
            raise PolosError(
                f"execution {suspend_execution_id} runs workflow {run['workflow_id']!r}, "
                f"not {suspend_workflow_id!r}; check the ids passed to resume()"
            )
        if run["status"] in FINAL_STATUSES:
            raise PolosError(
                f"execution {suspend_execution_id} is already {run['status']}; "
                "there is nothing to resume"
            )
        root = run["root_execution_id"] or run["id"]
        return await self.publish(suspend_topic(root, suspend_step_key), data, "resume")

    async def list_suspended(self, workflow_id: str | None = None) -> list[SuspendInfo]:
        raise ConfigurationError(self._no_database("list_suspended()"))

    # inspecting -------------------------------------------------------------------
    async def _execution(self, execution_id: str) -> dict[str, Any]:
        try:
            run: dict[str, Any] = await self._call(
                "GET", f"/api/v1/executions/{_segment(execution_id)}"
            )
        except RemoteError as exc:
            if exc.status == 404:
                raise ExecutionNotFoundError(execution_id) from None
            raise
        return run

    async def get_execution(self, execution_id: str) -> ExecutionInfo:
        run = await self._execution(execution_id)
        path = f"/api/v1/executions/{_segment(execution_id)}"
        steps, history = await asyncio.gather(
            self._call("GET", f"{path}/steps"), self._call("GET", f"{path}/history")
        )
        return _info(
            run,
            [StepInfo.model_validate(s) for s in steps["steps"]],
            [HistoryEntry.model_validate(h) for h in history["history"]],
        )

    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[ExecutionInfo]:
        out: list[ExecutionInfo] = []
        while len(out) < limit:
            page = await self._call(
                "GET",
                "/api/v1/executions",
                params={
                    "status": status,
                    "workflow_id": workflow_id,
                    "limit": min(limit - len(out), _PAGE),
                    "offset": offset + len(out),
                    "start_time": _iso(created_after),
                    "end_time": _iso(created_before),
                },
            )
            out.extend(_info(run) for run in page["executions"])
            if page["next_offset"] is None:
                break
        return out

    async def wait_for_result(self, execution_id: str, timeout: float | None = 600.0) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        poll = _POLL_MIN
        while True:
            run = await self._execution(execution_id)
            if run["status"] in FINAL_STATUSES:
                error = json.dumps(run["error"]) if run["error"] is not None else None
                result = run["result"]
                if run["status"] == "completed":
                    return result
                return _outcome(run["id"], run["status"], None, error)
            wait = poll
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkflowTimeoutError(execution_id, timeout or 0)
                wait = min(wait, remaining)
            await asyncio.sleep(wait)
            poll = min(poll * 2, _POLL_MAX)

    # cancelling -------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str) -> bool:
        try:
            await self._call("POST", f"/api/v1/executions/{_segment(execution_id)}/cancel")
        except RemoteError as exc:
            if exc.status == 404:
                raise ExecutionNotFoundError(execution_id) from None
            if exc.status == 409:  # already completed or failed: left as it was
                run = await self._execution(execution_id)
                return bool(run["status"] == "cancelled")
            raise
        return True

    # retry and fork -------------------------------------------------------------------
    async def retry_execution(self, execution_id: str) -> ExecutionHandle:
        try:
            run = await self._call("POST", f"/api/v1/executions/{_segment(execution_id)}/retry")
        except RemoteError as exc:
            if exc.status == 404:
                raise ExecutionNotFoundError(execution_id) from None
            if exc.error_type == "NOT_RETRYABLE":
                status = (await self._execution(execution_id))["status"]
                raise ExecutionNotRetryableError(execution_id, status) from None
            raise
        return _handle(run).bind(self)

    async def fork_execution(
        self, execution_id: str, from_step: str, payload: Any = None
    ) -> ExecutionHandle:
        if not isinstance(from_step, str) or not from_step:
            raise TypeError(
                f"from_step must be a recorded step's key (a string), got {from_step!r}"
            )
        body = {"from_step": from_step, "payload": to_jsonable_python(payload, fallback=str)}
        path = f"/api/v1/executions/{_segment(execution_id)}"
        try:
            run = await self._call("POST", f"{path}/fork", json_body=body)
        except RemoteError as exc:
            if exc.status == 404:
                raise ExecutionNotFoundError(execution_id) from None
            if exc.error_type == "UNKNOWN_STEP_KEY":
                steps = await self._call("GET", f"{path}/steps")
                known = [s["step_key"] for s in steps["steps"]]
                raise UnknownStepKeyError(execution_id, from_step, known) from None
            raise
        return _handle(run).bind(self)

    async def retry_failed(
        self,
        workflow_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        error_contains: str | None = None,
        limit: int = 1000,
    ) -> list[ExecutionHandle]:
        body = {
            "workflow_id": workflow_id,
            "since": _iso(since),
            "until": _iso(until),
            "error_contains": error_contains,
            "limit": limit,
        }
        answer = await self._call("POST", "/api/v1/executions/retry_failed", json_body=body)
        return [_handle(run).bind(self) for run in answer["executions"]]

    # schedules ------------------------------------------------------------------------
    async def create_schedule(self, workflow_id: str, cron: str, timezone: str, key: str) -> str:
        answer = await self._call(
            "POST",
            "/api/v1/schedules",
            json_body={"workflow_id": workflow_id, "cron": cron, "timezone": timezone, "key": key},
        )
        return str(answer["schedule_id"])

    async def list_schedules(self, workflow_id: str | None) -> list[dict[str, Any]]:
        answer = await self._call("GET", "/api/v1/schedules", params={"workflow_id": workflow_id})
        schedules: list[dict[str, Any]] = answer["schedules"]
        return schedules

    async def delete_schedule(self, workflow_id: str, key: str) -> bool:
        try:
            await self._call(
                "DELETE",
                f"/api/v1/schedules/workflows/{_segment(workflow_id)}",
                params={"key": key},
            )
        except RemoteError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # streams --------------------------------------------------------------------------
    async def stream(
        self, params: dict[str, Any], last_event_id: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Server-Sent Events of ``GET /api/v1/events/stream``; reconnects after a
        dropped connection with the last id seen, so nothing is missed or repeated."""
        while True:
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            query = {k: v for k, v in params.items() if v is not None}
            try:
                async with self._client().stream(
                    "GET",
                    "/api/v1/events/stream",
                    params=query,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout, read=None),
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise _refusal(response)
                    event_id: str | None = None
                    data: list[str] = []
                    async for line in response.aiter_lines():
                        if line.startswith(":"):
                            continue
                        if line.startswith("id:"):
                            event_id = line[3:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].lstrip())
                        elif line == "" and data:
                            event = StreamEvent.model_validate_json("\n".join(data))
                            data = []
                            last_event_id = event_id or last_event_id
                            yield event
                    return  # the server ended the stream (a run tree that finished)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError):
                await asyncio.sleep(0.5)

    async def stream_topic(
        self, topic: str, last_sequence_id: int | None, last_timestamp: datetime | None
    ) -> AsyncIterator[StreamEvent]:
        if last_sequence_id is None and last_timestamp is None:
            last_timestamp = datetime.now(UTC)  # from now on, as the direct client
        async for event in self.stream(
            {
                "topic": topic,
                "last_sequence_id": last_sequence_id,
                "last_timestamp": _iso(last_timestamp),
            }
        ):
            yield event

    async def stream_workflow(
        self,
        workflow_id: str,
        workflow_run_id: str,
        last_sequence_id: int | None,
        last_timestamp: datetime | None,
    ) -> AsyncIterator[StreamEvent]:
        async for event in self.stream(
            {
                "workflow_id": workflow_id,
                "workflow_run_id": workflow_run_id,
                "last_sequence_id": last_sequence_id,
                "last_timestamp": _iso(last_timestamp),
            }
        ):
            yield event


def _run_item(item: BatchWorkflowInput) -> dict[str, Any]:
    workflow_id = item.workflow_id
    queue_name: str | None = None
    limit: int | None = None
    queue = item.queue
    if isinstance(queue, str):
        queue_name = queue
    elif isinstance(queue, dict):
        queue_name, limit = queue.get("name"), queue.get("concurrency_limit")
    elif queue is not None:
        queue_name = getattr(queue, "name", None)
        limit = getattr(queue, "concurrency_limit", None)
    return {
        "workflow_id": workflow_id,
        "payload": to_jsonable_python(item.payload, fallback=str),
        "initial_state": to_jsonable_python(item.initial_state, fallback=str),
        "run_timeout_seconds": item.run_timeout_seconds,
        "queue_name": queue_name,
        "queue_concurrency_limit": limit,
        "concurrency_key": item.concurrency_key,
        "priority": item.priority,
        "idempotency_key": item.idempotency_key,
        "session_id": item.session_id,
        "user_id": item.user_id,
    }


def _handle(run: dict[str, Any]) -> ExecutionHandle:
    """A handle from a retried or forked run as the server answers it."""
    return ExecutionHandle(
        id=run["execution_id"],
        workflow_id=run["workflow_id"],
        created_at=run["created_at"],
        parent_execution_id=run.get("parent_execution_id"),
        root_workflow_id=run["root_workflow_id"],
        root_execution_id=run["root_execution_id"],
    )


def _info(
    run: dict[str, Any],
    steps: list[StepInfo] | None = None,
    history: list[HistoryEntry] | None = None,
) -> ExecutionInfo:
    fields = {k: v for k, v in run.items() if k in ExecutionInfo.model_fields}
    return ExecutionInfo.model_validate({**fields, "steps": steps or [], "history": history or []})


def _refusal(response: httpx.Response) -> RemoteError:
    try:
        body = response.json()
        message = str(body.get("error") or body)
        error_type = str(body.get("error_type") or "ERROR")
    except ValueError:
        message, error_type = response.text or response.reason_phrase, "ERROR"
    return RemoteError(response.status_code, error_type, message)


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()
