"""``Polos``: a client and a worker in one process; the embedded default."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from ..channels.channel import Channel
from ..engine.definition import WorkflowDefinition
from ..engine.run import DEFAULT_MAX_PAYLOAD_BYTES
from ..errors import ConfigurationError
from ..store import Store
from ..types import (
    BatchWorkflowInput,
    EventData,
    EventPayload,
    ExecutionHandle,
    QueueStats,
    SuspendInfo,
)
from .client import PolosClient
from .current import current_polos, set_current
from .models import ExecutionInfo
from .remote import remote_client
from .settings import DEFAULT_DEPLOYMENT_ID, send_logs_to_file
from .worker import DEFAULT_MAX_CONCURRENT, Worker, wait_for_signal


class Polos:
    """Client + worker in one object.

    ``async with Polos() as polos:`` starts a worker for every defined
    workflow on the embedded SQLite database ``./.polos/polos.db`` (or
    ``database_url=`` / ``POLOS_DATABASE_URL``), and makes it the current
    client for ``wf.run(payload)`` calls without a client. The positional
    arguments are Polos's own; see :mod:`polos.runtime.settings`.
    """

    def __init__(
        self,
        project_id: str | None = None,
        api_url: str | None = None,
        api_key: str | None = None,
        deployment_id: str | None = None,
        port: int = 8000,
        max_concurrent_workflows: int | None = None,
        channels: Sequence[Channel] | None = None,
        log_file: str | None = None,
        *,
        database_url: str | None = None,
        workflows: Iterable[WorkflowDefinition | str] | None = None,
        worker: bool = True,
        **worker_options: Any,
    ) -> None:
        if log_file:
            send_logs_to_file(log_file)
        self.client = PolosClient(
            api_url,
            api_key,
            project_id,
            deployment_id,
            database_url=database_url,
            max_payload_bytes=worker_options.get("max_payload_bytes", DEFAULT_MAX_PAYLOAD_BYTES),
        )
        if worker and remote_client(self.client) is not None:
            raise ConfigurationError(
                f"Polos(api_url={self.client.api_url!r}) starts a worker, and a worker runs "
                "workflows on the database itself, not through the server: pass database_url= "
                "(or set POLOS_DATABASE_URL) to the server's database, or pass worker=False "
                "for a client that only starts and watches runs over HTTP"
            )
        if worker_options.get("clock") is not None:
            self.client.clock = worker_options["clock"]  # one clock for runs and submissions
        self.database_url = self.client.database_url
        #: Polos serves pushed work on this port; an embedded worker claims from the
        #: database instead, so it is kept only for code that reads it back.
        self.port = port
        self.channels: list[Channel] = list(channels or ())
        self.worker: Worker | None = (
            Worker(
                self.client,
                workflows=workflows,
                max_concurrent_workflows=max_concurrent_workflows or DEFAULT_MAX_CONCURRENT,
                channels=self.channels,
                **worker_options,
            )
            if worker
            else None
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Task[None] | None = None

    # lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.client.start()
        if self.worker is not None:
            await self.worker.start()
        set_current(self)

    def start_in_background(self) -> None:
        """Begin starting; every client call waits for the start to finish."""
        self._starting = asyncio.get_running_loop().create_task(self.start())
        self.loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        if current_polos() is self:
            set_current(None)
        if self.worker is not None:
            await self.worker.stop()
        await self.client.close()

    async def serve(self) -> None:
        """Run until SIGINT/SIGTERM, then stop gracefully."""
        await self._ready()
        try:
            await wait_for_signal()
        finally:
            await self.stop()

    async def __aenter__(self) -> Polos:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _ready(self) -> PolosClient:
        if self._starting is not None:
            await self._starting
        elif self.loop is None:
            await self.start()
        return self.client

    # the client API ------------------------------------------------------------------------
    async def invoke(
        self, workflow_id: Any, payload: Any = None, *args: Any, **options: Any
    ) -> ExecutionHandle:
        """As :meth:`PolosClient.invoke` (Polos's arguments: ``workflow_id, payload,
        queue_name, queue_concurrency_limit, concurrency_key, session_id, user_id,
        initial_state, run_timeout_seconds``)."""
        handle = await (await self._ready()).invoke(workflow_id, payload, *args, **options)
        return handle.bind(self)

    async def run(
        self, workflow: Any, payload: Any = None, *, timeout: float | None = 600.0, **options: Any
    ) -> Any:
        return await (await self._ready()).run(workflow, payload, timeout=timeout, **options)

    async def wait_for_result(self, execution_id: str, timeout: float | None = 600.0) -> Any:
        return await (await self._ready()).wait_for_result(execution_id, timeout=timeout)

    async def get_execution(self, execution_id: str) -> ExecutionInfo:
        return await (await self._ready()).get_execution(execution_id)

    async def cancel_execution(self, execution_id: str) -> bool:
        return await (await self._ready()).cancel_execution(execution_id)

    async def retry_execution(self, execution_id: str) -> ExecutionHandle:
        return await (await self._ready()).retry_execution(execution_id)

    async def fork_execution(
        self, execution_id: str, from_step: str, payload: Any = None
    ) -> ExecutionHandle:
        return await (await self._ready()).fork_execution(execution_id, from_step, payload)

    async def retry_failed(
        self, workflow_id: str | None = None, **filters: Any
    ) -> list[ExecutionHandle]:
        return await (await self._ready()).retry_failed(workflow_id, **filters)

    async def list_executions(self, **filters: Any) -> list[ExecutionInfo]:
        return await (await self._ready()).list_executions(**filters)

    async def batch_invoke(
        self,
        workflows: Sequence[BatchWorkflowInput],
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> list[ExecutionHandle]:
        handles = await (await self._ready()).batch_invoke(workflows, session_id, user_id)
        return [h.bind(self) for h in handles]

    async def publish(
        self, topic: str, data: Any = None, event_type: str | None = None
    ) -> EventPayload:
        return await (await self._ready()).publish(topic, data, event_type)

    async def batch_publish(self, topic: str, events: Sequence[EventData]) -> list[EventPayload]:
        return await (await self._ready()).batch_publish(topic, events)

    async def resume(
        self,
        suspend_workflow_id: str,
        suspend_execution_id: str,
        suspend_step_key: str,
        data: Any = None,
    ) -> EventPayload:
        return await (await self._ready()).resume(
            suspend_workflow_id, suspend_execution_id, suspend_step_key, data
        )

    async def batch_agent_invoke(self, invocations: Sequence[Any]) -> list[ExecutionHandle]:
        handles = await (await self._ready()).batch_agent_invoke(invocations)
        return [h.bind(self) for h in handles]

    async def queue_stats(self, max_keys: int | None = None) -> list[QueueStats]:
        return await (await self._ready()).queue_stats(max_keys)

    async def list_suspended(self, workflow_id: str | None = None) -> list[SuspendInfo]:
        return await (await self._ready()).list_suspended(workflow_id)

    @property
    def store(self) -> Store:
        return self.client.store

    # Polos's read-only settings, from the client.
    @property
    def project_id(self) -> str | None:
        return self.client.project_id

    @property
    def api_url(self) -> str:
        return self.client.api_url

    @property
    def api_key(self) -> str | None:
        return self.client.api_key

    @property
    def deployment_id(self) -> str:
        """As in Polos: the deployment given, else ``"default"``."""
        return self.client.deployment_id or DEFAULT_DEPLOYMENT_ID
