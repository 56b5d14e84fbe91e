"""The state of one attempt of one execution, and the step bookkeeping.

Replay works by key: every recorded step of the execution is loaded before
the function starts, so a replayed step is a dict lookup with no I/O. A new
step runs and is recorded with one fenced write.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import orjson

from .. import serialization
from ..errors import (
    DuplicateStepKeyError,
    NonDeterminismError,
    PolosError,
    StepExecutionError,
    WaitTimeoutError,
)
from ..store import Store
from ..store.records import Claimed, StepRow
from ..store.vocabulary import HistoryEvent, StepKind, WaitKind
from .clock import Clock
from .definition import WorkflowDefinition
from .signals import Stopped, StopReason, Suspended
from .step_keys import check_step_key

DEFAULT_MAX_PAYLOAD_BYTES = 2 * 1024 * 1024

current_run: contextvars.ContextVar[ExecutionRun | None] = contextvars.ContextVar(
    "polos_current_run", default=None
)


class ExecutionRun:
    def __init__(
        self,
        store: Store,
        claimed: Claimed,
        definition: WorkflowDefinition,
        *,
        clock: Clock,
        worker_id: str,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        self.store = store
        self.row = claimed.execution
        self.execution_id = claimed.execution.id
        self.attempt = claimed.execution.attempt
        self.definition = definition
        self.clock = clock
        self.worker_id = worker_id
        self.max_payload_bytes = max_payload_bytes
        #: Set by the worker: keeps a parked run in memory until this worker
        #: claims it again (returns that claim) or gives up (returns None).
        self.holder: Callable[[ExecutionRun, str], Awaitable[Claimed | None]] | None = None
        self.holding = False
        #: Set by the worker: recorded in ``ctx.deployment_id``.
        self.deployment_id: str | None = None
        #: Set by the worker when it has channels: called (without awaiting the
        #: run) once a suspend's wait is committed, with what to tell people.
        self.on_suspend: Callable[[dict[str, Any]], None] | None = None
        self.recorded: dict[str, StepRow] = {s.step_key: s for s in claimed.steps}
        self.used_keys: set[str] = set()
        self.stop_reason: StopReason | None = None
        #: Set by the worker: until when (``time.monotonic()``) this attempt surely
        #: holds its lease, counted from the moment the claim or the last renewing
        #: heartbeat was sent. Past it the run starts no new step: a worker that was
        #: paused (SIGSTOP, a frozen VM) or cut off may have been taken over, and the
        #: new owner may have recorded that very step already.
        self.lease_until = math.inf
        self.tasks: set[asyncio.Task[Any]] = set()
        self.decorated_step_counts: dict[str, int] = {}
        self.event_cursor = claimed.event_cursor
        # Replay starts from the initial state; step snapshots restore the rest.
        self.state: Any = definition.initial_state(serialization.loads(self.row.initial_state))
        self._state_json: str | None = self.row.initial_state if definition.state_schema else None

    # workflow state --------------------------------------------------------------
    def state_if_changed(self) -> str | None:
        """The state as JSON when it changed since last saved, else ``None`` (cheap when stateless)."""
        if self.definition.state_schema is None:
            return None
        text = self.encode("workflow state", self.state)
        if text == self._state_json:
            return None
        self._state_json = text
        return text

    def state_now(self) -> str | None:
        if self.definition.state_schema is None:
            return None
        self.state_if_changed()
        return self._state_json

    # keys and replay ----------------------------------------------------------
    def take_key(self, step_key: str, kind: StepKind, name: str) -> StepRow | None:
        """Reserve ``step_key`` for this run; returns its record if replaying."""
        check_step_key(step_key)
        if step_key in self.used_keys:
            raise DuplicateStepKeyError(step_key)
        self.used_keys.add(step_key)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        recorded = self.recorded.get(step_key)
        if recorded is not None and (recorded.kind != kind or recorded.name != name):
            raise NonDeterminismError(
                step_key, _describe(recorded.kind, recorded.name), _describe(kind, name)
            )
        if recorded is None and self.stop_reason is None and time.monotonic() >= self.lease_until:
            self.stop(StopReason.LEASE_EXPIRED)
        if recorded is None and self.stop_reason is not None:
            raise Stopped(self.stop_reason)
        return recorded

    def replay(self, recorded: StepRow) -> Any:
        if recorded.state is not None:
            self.state = self.definition.initial_state(serialization.loads(recorded.state))
            self._state_json = recorded.state
        if recorded.error is not None:
            raise step_error_from_record(recorded)
        return serialization.loads(recorded.output)

    # recording ----------------------------------------------------------------
    def encode(self, what: str, value: Any) -> str:
        """JSON for ``value``, or a clear error naming ``what`` and the type."""
        return serialization.dumps_limited(what, value, self.max_payload_bytes)

    async def record(
        self,
        step_key: str,
        kind: StepKind,
        name: str,
        output: str | None,
        error: str | None = None,
    ) -> StepRow:
        row = StepRow(
            step_key,
            kind,
            name,
            output,
            error,
            self.attempt,
            self.clock.now(),
            state=self.state_if_changed(),
        )
        if not await self.store.record_step(self.execution_id, self.attempt, row):
            self.stop(StopReason.FENCED)
            raise Stopped("this worker no longer owns the execution (cancelled or taken over)")
        self.recorded[step_key] = row
        return row

    async def park(self, step_key: str, kind: WaitKind, wake_at: float | None) -> None:
        """Record a wait and unwind; whatever resolves it requeues the execution."""
        parked = await self.store.begin_wait(
            self.execution_id,
            self.attempt,
            step_key,
            kind,
            wake_at,
            self.clock.now(),
            state=self.state_if_changed(),
        )
        await self.after_park(parked, step_key)

    async def after_park(self, parked: bool, step_key: str) -> StepRow:
        """A wait was stored: return its outcome, or leave this attempt.

        The database holds the run as ``waiting`` either way, so a crash from
        here on loses nothing. If the worker allows it (spare slots, no other
        branch running), the coroutine stays in memory: when whatever resolves
        the wait requeues the run, this worker claims it again and the run
        continues here, without replaying from the top. That is what keeps an
        agent making N tool calls at O(N) store work and time.
        """
        if not parked:
            self.refused()
        if self.holder is not None and self._alone():
            claimed = await self.holder(self, step_key)
            if claimed is not None:
                self.row, self.attempt = claimed.execution, claimed.execution.attempt
                self.event_cursor = claimed.event_cursor
                step = await self.store.get_step(self.execution_id, step_key)
                if step is None:  # requeued for another reason: start over by replay
                    await self.store.release_execution(
                        self.execution_id, self.attempt, self.clock.now()
                    )
                    self.stop(StopReason.RELEASED)
                    raise Suspended(step_key)
                self.recorded[step_key] = step
                return step
        self.stop(StopReason.SUSPENDED)
        raise Suspended(step_key)

    def _alone(self) -> bool:
        me = asyncio.current_task()
        return all(task is me or task.done() for task in self.tasks)

    def refused(self) -> NoReturn:
        self.stop(StopReason.FENCED)
        raise Stopped("this worker no longer owns the execution (cancelled or taken over)")

    async def note_retry(
        self, step_key: str, retry: int, delay: float, error: BaseException
    ) -> None:
        detail = {
            "step_key": step_key,
            "retry": retry,
            "delay": delay,
            "error": f"{type(error).__name__}: {error}",
        }
        await self.store.add_history(
            self.execution_id,
            self.attempt,
            HistoryEvent.STEP_RETRY,
            orjson.dumps(detail).decode(),
            self.clock.now(),
        )

    # stopping -------------------------------------------------------------------
    def stop(self, reason: StopReason) -> None:
        """Make every still-running branch of this run stop at its next step."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def cancel_stray_tasks(self) -> None:
        """Cancel branches (``asyncio.gather`` children) left running after an unwind."""
        me = asyncio.current_task()
        for task in self.tasks:
            if task is not me and not task.done():
                task.cancel()


def error_record(error: BaseException, attempts: int = 1) -> str:
    return orjson.dumps(
        {
            "type": type(error).__name__,
            "module": type(error).__module__,
            "message": str(error),
            "attempts": attempts,
        }
    ).decode()


def step_error_from_record(recorded: StepRow) -> PolosError:
    info = orjson.loads(recorded.error or "{}")
    if info.get("type") == "WaitTimeoutError":
        return WaitTimeoutError(recorded.step_key, info.get("message"))
    return StepExecutionError.for_step(
        recorded.step_key,
        info.get("type", "Error"),
        info.get("message", ""),
        info.get("attempts", 1),
    )


def _describe(kind: str, name: str) -> str:
    return f"ctx.step.{kind}({name})" if name else f"ctx.step.{kind}"
