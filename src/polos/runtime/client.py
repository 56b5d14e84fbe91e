"""``PolosClient``: submit, inspect, await and cancel executions."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .. import serialization
from ..engine import definition as registry
from ..engine.run import DEFAULT_MAX_PAYLOAD_BYTES
from ..errors import (
    ExecutionCancelledError,
    ExecutionNotFoundError,
    PayloadTooLargeError,
    PolosError,
    SerializationError,
    WorkflowFailedError,
    WorkflowTimeoutError,
)
from ..store import FINAL_STATUSES, NewExecution, Store, store_from_url
from ..store.records import CANCELLED, COMPLETED
from .current import forbid_inside_workflow
from .models import ExecutionHandle, ExecutionInfo, execution_info, handle_for

if TYPE_CHECKING:
    from ..engine.definition import WorkflowDefinition

_POLL_MIN, _POLL_MAX = 0.01, 0.25


@runtime_checkable
class ClientLike(Protocol):
    """What a workflow's ``invoke``/``run`` need: a ``PolosClient`` or a ``Polos``."""

    async def invoke(
        self, workflow: Any, payload: Any = None, **options: Any
    ) -> ExecutionHandle: ...
    async def wait_for_result(self, execution_id: str, timeout: float | None = 600.0) -> Any: ...
    async def get_execution(self, execution_id: str) -> ExecutionInfo: ...
    async def cancel_execution(self, execution_id: str) -> ExecutionInfo: ...


_UNSUPPORTED = ("queue", "concurrency_key", "initial_state", "run_timeout_seconds")


class PolosClient:
    """Talks to the Polos database directly (embedded SQLite or PostgreSQL).

    ``PolosClient()`` uses ``POLOS_DATABASE_URL`` or the embedded default
    ``./.polos/polos.db``. The store opens on first use; ``await
    client.close()`` (or ``async with``) releases it.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        store: Store | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        self._store = store if store is not None else store_from_url(database_url)
        self._opened = False
        self._open_lock: asyncio.Lock | None = None
        self.max_payload_bytes = max_payload_bytes

    @property
    def store(self) -> Store:
        return self._store

    async def start(self) -> None:
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                await self._store.open()
                self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self._store.close()
            self._opened = False

    async def __aenter__(self) -> PolosClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ready(self) -> Store:
        if not self._opened:
            await self.start()
        return self._store

    # submitting -----------------------------------------------------------------------
    async def invoke(
        self,
        workflow: str | WorkflowDefinition,
        payload: Any = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        **options: Any,
    ) -> ExecutionHandle:
        """Queue a run of ``workflow`` (an id or a workflow object); returns at once."""
        forbid_inside_workflow("invoke()")
        _reject_unsupported(options)
        workflow_id = workflow if isinstance(workflow, str) else workflow.id
        definition = registry.lookup(workflow_id)
        if definition is not None:
            definition.coerce_payload(payload)  # fail now, before anything is stored
        try:
            payload_json = serialization.dumps(payload)
        except SerializationError as exc:
            raise SerializationError(f"payload of workflow {workflow_id!r}: {exc}") from None
        if len(payload_json) > self.max_payload_bytes:
            raise PayloadTooLargeError(
                f"payload of workflow {workflow_id!r}", len(payload_json), self.max_payload_bytes
            )
        store = await self._ready()
        new = NewExecution(
            id=str(uuid.uuid4()),
            workflow_id=workflow_id,
            payload=payload_json,
            created_at=time.time(),
            session_id=session_id,
            user_id=user_id,
        )
        await store.create_execution(new)
        return handle_for(
            new.id,
            workflow_id,
            new.created_at,
            session_id=session_id,
            user_id=user_id,
            root_execution_id=new.id,
            root_workflow_id=workflow_id,
        ).bind(self)

    async def run(
        self,
        workflow: str | WorkflowDefinition,
        payload: Any = None,
        *,
        timeout: float | None = 600.0,
        **options: Any,
    ) -> Any:
        """Invoke and wait for the result; raises the workflow's failure."""
        forbid_inside_workflow("run()")
        handle = await self.invoke(workflow, payload, **options)
        return await self.wait_for_result(handle.id, timeout=timeout)

    # inspecting -------------------------------------------------------------------
    async def get_execution(self, execution_id: str) -> ExecutionInfo:
        store = await self._ready()
        row = await store.get_execution(execution_id)
        if row is None:
            raise ExecutionNotFoundError(execution_id)
        steps = await store.list_steps(execution_id)
        history = await store.list_history(execution_id)
        return execution_info(row, steps, history)

    async def list_executions(
        self, *, status: str | None = None, workflow_id: str | None = None, limit: int = 100
    ) -> list[ExecutionInfo]:
        store = await self._ready()
        rows = await store.list_executions(status=status, workflow_id=workflow_id, limit=limit)
        return [execution_info(row) for row in rows]

    async def wait_for_result(self, execution_id: str, timeout: float | None = 600.0) -> Any:
        """Wait until the execution finishes; return its result or raise its error."""
        store = await self._ready()
        deadline = None if timeout is None else time.monotonic() + timeout
        poll = _POLL_MIN
        while True:
            finished = store.hub.finished_future(execution_id)
            try:
                row = await store.get_execution(execution_id)
                if row is None:
                    raise ExecutionNotFoundError(execution_id)
                if row.status in FINAL_STATUSES:
                    return _outcome(row.id, row.status, row.result, row.error)
                wait = poll
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise WorkflowTimeoutError(execution_id, timeout or 0)
                    wait = min(wait, remaining)
                # Woken at once by a worker in this process, else by the poll.
                await asyncio.wait([finished], timeout=wait)
                poll = min(poll * 2, _POLL_MAX)
            finally:
                store.hub.discard_future(execution_id, finished)

    # cancelling -------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str) -> ExecutionInfo:
        """Cancel a queued, waiting or running execution (a finished one is left as is).

        A running execution is marked ``cancelled`` at once and stops at its
        next step boundary.
        """
        store = await self._ready()
        row = await store.cancel_execution(execution_id, time.time())
        if row is None:
            raise ExecutionNotFoundError(execution_id)
        return execution_info(row)


def _outcome(execution_id: str, status: str, result: str | None, error: str | None) -> Any:
    if status == COMPLETED:
        return serialization.loads(result, strict=False)
    if status == CANCELLED:
        raise ExecutionCancelledError(execution_id)
    import orjson

    raise WorkflowFailedError(execution_id, orjson.loads(error) if error else None)


def _reject_unsupported(options: dict[str, Any]) -> None:
    for name, value in options.items():
        if name not in _UNSUPPORTED:
            raise TypeError(f"invoke() got an unknown option {name!r}")
        if value is not None:
            raise PolosError(
                f"invoke option {name}= is not supported by this version of Polos yet; "
                "remove it (see docs/roadmap.md)"
            )
