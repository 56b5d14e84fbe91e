"""Operating finished runs: retry one, fork one, retry every failure that matches.

The client's ``retry_execution``, ``fork_execution`` and ``retry_failed`` are
thin calls of these; the store does each change in one transaction (see
:mod:`polos.store.retries` for what a retry and a fork keep and redo).

A retry continues the same execution id: its handle, its place in a run tree
and its history stay one story (``retried`` entries mark each new start), and
a parent waiting on it is woken by it as before. A fork is a new run, so the
source stays as it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import serialization
from ..durations import utc_datetime
from ..engine.clock import Clock
from ..engine.submission import prepare_executions
from ..errors import ExecutionNotFoundError, ExecutionNotRetryableError, UnknownStepKeyError
from ..store import ExecutionRow, Store
from ..store.retries import fork_keys
from ..store.vocabulary import Status
from ..types import BatchWorkflowInput, ExecutionHandle


@dataclass(frozen=True, slots=True)
class FailedFilter:
    """Which failed runs ``retry_failed`` takes; every field given must match."""

    workflow_id: str | None = None
    #: Failed at or after this time.
    since: datetime | None = None
    #: Failed before this time.
    until: datetime | None = None
    #: Text the stored error (type and message) holds, as typed.
    error_contains: str | None = None
    limit: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or isinstance(self.limit, bool) or self.limit < 1:
            raise ValueError(f"limit must be a positive integer, got {self.limit!r}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise TypeError(f"{name} must be a datetime, got {value!r}")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError(
                f"until ({self.until.isoformat()}) must be later than since "
                f"({self.since.isoformat()})"
            )


def handle_of_row(row: ExecutionRow) -> ExecutionHandle:
    return ExecutionHandle(
        id=row.id,
        workflow_id=row.workflow_id,
        created_at=utc_datetime(row.created_at),
        parent_execution_id=row.parent_execution_id,
        root_workflow_id=row.root_workflow_id or row.workflow_id,
        root_execution_id=row.root_execution_id or row.id,
        session_id=row.session_id,
        user_id=row.user_id,
        step_key=row.step_key,
    )


async def retry(store: Store, clock: Clock, execution_id: str) -> ExecutionHandle:
    """Start a failed or cancelled run again from its first unfinished step."""
    outcome = await store.retry_execution(execution_id, clock.now())
    if outcome is None:
        raise ExecutionNotFoundError(execution_id)
    if not outcome.retried:
        raise ExecutionNotRetryableError(execution_id, outcome.execution.status)
    return handle_of_row(outcome.execution)


async def fork(
    store: Store,
    clock: Clock,
    execution_id: str,
    from_step: str,
    payload: Any,
    *,
    max_payload_bytes: int,
    deployment_id: str | None,
) -> ExecutionHandle:
    """A new run of the same workflow: the steps recorded before ``from_step`` are
    copied (they replay), ``from_step`` and everything after it run anew."""
    if not isinstance(from_step, str) or not from_step:
        raise TypeError(f"from_step must be a recorded step's key (a string), got {from_step!r}")
    row = await store.get_execution(execution_id)
    if row is None:
        raise ExecutionNotFoundError(execution_id)
    steps = await store.list_steps(execution_id)
    keys = fork_keys(steps, from_step)
    if keys is None:
        raise UnknownStepKeyError(execution_id, from_step, [s.step_key for s in steps])
    item = BatchWorkflowInput(
        id=row.workflow_id,
        payload=serialization.loads(row.payload, strict=False) if payload is None else payload,
        initial_state=serialization.loads(row.initial_state, strict=False),
        run_timeout_seconds=row.run_timeout_seconds,
        queue=row.queue_name or None,
        concurrency_key=row.concurrency_key or None,
        priority=row.priority,
        session_id=row.session_id,
        user_id=row.user_id,
    )
    [new] = await prepare_executions(
        store, [item], clock=clock, max_payload_bytes=max_payload_bytes, deployment_id=deployment_id
    )
    if payload is None:  # the source's payload as stored, not a decoded and re-encoded copy
        new.payload = row.payload
    new.state = row.initial_state  # likewise: the state the source started with
    if not await store.fork_execution(execution_id, new, from_step, keys):
        raise ExecutionNotFoundError(execution_id)
    forked = await store.get_execution(new.id)
    assert forked is not None
    return handle_of_row(forked)


async def retry_failed(store: Store, clock: Clock, which: FailedFilter) -> list[ExecutionHandle]:
    """Retry every failed run that matches, oldest failure first; returns those retried.

    A run retried meanwhile (by someone else, or with a parent retried just
    before it) is skipped: it is not failed any more.
    """
    rows = await store.list_failed(
        workflow_id=which.workflow_id,
        failed_after=_epoch(which.since),
        failed_before=_epoch(which.until),
        error_contains=which.error_contains,
        limit=which.limit,
    )
    handles = []
    for row in rows:
        outcome = await store.retry_execution(row.id, clock.now(), statuses=[Status.FAILED])
        if outcome is not None and outcome.retried:
            handles.append(handle_of_row(outcome.execution))
    return handles


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
