"""One attempt of one execution, and the life of each of its steps.

Every ``ctx.step`` method hands its step to the run: the run takes the key,
replays a recorded outcome, or does the step and records it (retrying a
``run`` step), parks the execution on a wait, or publishes. ``ctx.step``
only checks its arguments and shapes what it returns; nothing else touches
the store on a step's behalf or the record of what the run did.

Replay works by key: every recorded step of the execution is loaded before
the function starts, so a replayed step is a dict lookup with no I/O. A new
step runs and is recorded with one fenced write.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import orjson

from .. import serialization
from ..errors import (
    DuplicateStepKeyError,
    NonDeterminismError,
    PatchRemovedError,
    PayloadTooLargeError,
    SerializationError,
    StepExecutionError,
    WorkflowDefinitionError,
)
from ..store import Store
from ..store.records import Claimed, NewEvent, NewExecution, StepRow
from ..store.vocabulary import HistoryEvent, StepKind, WaitKind
from ..types import check_topic
from .calls import call_function, function_name
from .clock import Clock
from .decoded_outputs import DecodedOutputs
from .definition import WorkflowDefinition
from .eager_starts import EagerStarts
from .retry import RetryPolicy
from .signals import Stopped, StopReason, Suspended
from .step_errors import error_record, step_error_from_record
from .step_keys import check_step_key
from .tracing import OpenSpan, Tracer
from .versioning import expected_steps, mismatch_detail, patch_key

DEFAULT_MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
#: Retry delays at least this long wait durably instead of sleeping in memory.
DURABLE_RETRY_SECONDS = 5.0
log = logging.getLogger("polos.engine")
_FENCED = "this worker no longer owns the execution (cancelled or taken over)"

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
        #: Set by the worker: children it may run itself start there at once.
        self.eager: EagerStarts | None = None
        #: Set by the worker when it has channels: called (without awaiting the
        #: run) once a suspend's wait is committed, with what to tell people.
        self.on_suspend: Callable[[dict[str, Any]], None] | None = None
        #: Set by the worker when tracing is on: told of this attempt and each step it runs.
        self.tracer: Tracer | None = None
        #: Set by the worker: what earlier attempts of its runs decoded, for steps
        #: whose caller shares the value (see :mod:`.decoded_outputs`).
        self.decoded: DecodedOutputs | None = None
        #: What the run failed with (set when it fails), for the worker's log line.
        self.failure: BaseException | None = None
        #: The step this attempt parked on, when it left to wait.
        self.parked_on: str | None = None
        #: A step done but not yet written (``run_step(defer=...)``): it rides in
        #: this run's next child start, or is written before any other write or
        #: step of the run. Lost with the process, like a step done and not yet
        #: recorded: the run does it again.
        self._deferred: StepRow | None = None
        self.recorded: dict[str, StepRow] = {s.step_key: s for s in claimed.steps}
        self.used_keys: set[str] = set()
        #: How many recorded keys the code has not reached yet (``replaying()``
        #: is asked at every traced step: counting keeps it O(1)).
        self._unreached = len(self.recorded)
        #: Recorded steps the code has not reached yet in this attempt (see
        #: :mod:`.versioning`): a patch ahead of them is one the run passed before
        #: it existed, and any left when the run ends are reported.
        self.ahead: set[str] = expected_steps(self.recorded)
        #: The task running the workflow function itself (set by the executor).
        self.main_task: asyncio.Task[Any] | None = None
        self._reported: set[str] = set()
        self.stop_reason: StopReason | None = None
        #: Set by the worker: until when (``time.monotonic()``) this attempt surely
        #: holds its lease, counted from the moment the claim or the last renewing
        #: heartbeat was sent. Past it the run starts no new step: a worker that was
        #: paused (SIGSTOP, a frozen VM) or cut off may have been taken over, and the
        #: new owner may have recorded that very step already.
        self.lease_until = math.inf
        self.tasks: set[asyncio.Task[Any]] = set()
        self.decorated_step_counts: dict[str, int] = {}
        #: Where the run's event waits start reading: the last event committed when
        #: the run was submitted, stored with it, so the same on every attempt.
        self.event_cursor = claimed.event_cursor
        #: Per topic, the highest event an event wait of this run received (from the
        #: recorded steps, then each wait as it ends): the next wait on the topic
        #: reads after it, so two waits on one topic get two events.
        self.topic_positions: dict[str, int] = {}
        #: Waits on one topic in parallel branches take turns, so that each reads
        #: after the event the one before it got (they would all get the same one).
        self.topic_locks: dict[str, asyncio.Lock] = {}
        for step in self.recorded.values():
            if step.kind == StepKind.EVENT and step.error is None and step.output:
                self.saw_event(serialization.loads(step.output))
        # Replay starts from the initial state; step snapshots restore the rest.
        self.state: Any = definition.initial_state(serialization.loads(self.row.initial_state))
        self._state_json: str | None = self.row.initial_state if definition.state_schema else None

    # event positions -------------------------------------------------------------
    def event_position(self, topic: str) -> int:
        """The sequence id a new wait on ``topic`` reads after (see :attr:`topic_positions`)."""
        return max(self.event_cursor, self.topic_positions.get(topic, 0))

    def saw_event(self, event: Any) -> None:
        """Note an event an event wait of this run received (a stored event's dict)."""
        if not isinstance(event, dict):
            return
        topic, seq = event.get("topic"), event.get("sequence_id")
        if isinstance(topic, str) and isinstance(seq, int):
            self.topic_positions[topic] = max(self.topic_positions.get(topic, 0), seq)

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

    def encode(self, what: str, value: Any) -> str:
        """JSON for ``value``, or a clear error naming ``what`` and the type."""
        return serialization.dumps_limited(what, value, self.max_payload_bytes)

    # steps: ctx.step.run and the values fixed at first run --------------------------
    async def run_step(
        self,
        step_key: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        max_retries: int,
        base_delay: float,
        max_delay: float,
        *,
        shared_output: bool = False,
        defer: Callable[[Any], bool] | None = None,
    ) -> Any:
        """``fn(*args, **kwargs)`` once, durably, retried up to ``max_retries`` times
        with backoff between ``base_delay`` and ``max_delay`` (``FatalError`` never is).

        The final failure is recorded and raised as ``StepExecutionError``, on
        this attempt and on every replay. ``shared_output``: the caller never
        mutates a replayed value, so one decoded by an earlier attempt on this
        worker may be returned (see :mod:`.decoded_outputs`).

        ``defer``: when it says so of the value, the step's record waits to
        commit in one transaction with the run's next child start (one write
        instead of two). Only for a caller that knows it starts children next
        with no user code in between: anything else the run does first (a
        step, a wait, a publish, its end) writes the record before it.
        """
        name = function_name(fn)
        recorded = self._take_key(step_key, StepKind.RUN, name)
        if recorded is not None:
            return self._replay(recorded, shared_output)
        if self._deferred is not None:  # fn is user code: nothing is deferred across it
            await self.flush_deferred()
        policy = RetryPolicy(max_retries, base_delay, max_delay)
        retries = self._durable_retries_done(step_key)
        started = self.clock.now()
        with _Spanned(self._span(StepKind.RUN, step_key, name)) as span:
            while True:
                try:
                    value = await call_function(fn, args, kwargs)
                    output = self.encode(f"output of step {step_key!r}", value)
                    break
                except asyncio.CancelledError:
                    raise
                except (SerializationError, PayloadTooLargeError) as exc:
                    # Deterministic: retrying cannot help, so fail the step now.
                    await self._fail_step(step_key, name, exc, retries + 1, started)
                except Exception as exc:
                    if not policy.should_retry(exc, retries):
                        await self._fail_step(step_key, name, exc, retries + 1, started)
                    retries += 1
                    if span is not None:
                        span.set_attribute("polos.step.retries", retries)
                    await self._pause_to_retry(step_key, retries, policy.delay(exc, retries), exc)
            row = self._row(step_key, StepKind.RUN, name, output, None, started)
            if defer is not None and defer(value):
                self._deferred = row
            else:
                # _record's work, one frame fewer to resume on the write's reply.
                if self._deferred is not None:  # another branch's, meanwhile
                    await self.flush_deferred()
                await self._write(row)
        return value

    async def value_step(self, step_key: str, kind: StepKind, make: Callable[[], Any]) -> Any:
        """A value made once (a uuid, the time, a random number), the same on every replay."""
        recorded = self._take_key(step_key, kind, "")
        if recorded is not None:
            return self._replay(recorded)
        value = make()
        await self._record(step_key, kind, "", serialization.dumps(value))
        return value

    async def _fail_step(
        self, step_key: str, name: str, error: Exception, attempts: int, started: float
    ) -> NoReturn:
        await self._record(
            step_key, StepKind.RUN, name, None, error_record(error, attempts), started_at=started
        )
        raise StepExecutionError.for_step(
            step_key, type(error).__name__, str(error), attempts
        ) from error

    async def _pause_to_retry(
        self, step_key: str, retry: int, delay: float, error: BaseException
    ) -> None:
        detail = {
            "step_key": step_key,
            "retry": retry,
            "delay": delay,
            "error": f"{type(error).__name__}: {error}",
        }
        log.info(
            "step retry",
            extra={
                "fields": {
                    "execution_id": self.execution_id,
                    "workflow_id": self.definition.id,
                    "attempt": self.attempt,
                    **detail,
                }
            },
        )
        await self.flush_deferred()
        await self.store.add_history(
            self.execution_id,
            self.attempt,
            HistoryEvent.STEP_RETRY,
            orjson.dumps(detail).decode(),
            self.clock.now(),
        )
        if delay >= DURABLE_RETRY_SECONDS:
            # A long pause (a rate limit's Retry-After, say) waits durably: the
            # slot is freed, and the count survives in the wait records.
            await self.sleep_until(_retry_key(step_key, retry), lambda now: now + delay)
            return
        await asyncio.sleep(delay)
        if self.stop_reason is not None:
            raise Stopped(self.stop_reason) from None

    def _durable_retries_done(self, step_key: str) -> int:
        """Retries of this step already waited for durably (on an earlier attempt)."""
        done = 0
        while _retry_key(step_key, done + 1) in self.recorded:
            done += 1
            self._take_key(_retry_key(step_key, done), StepKind.WAIT, "")
        return done

    # steps: durable sleeps ------------------------------------------------------------
    async def sleep_until(self, step_key: str, wake_at_from: Callable[[float], float]) -> None:
        """Sleep until ``wake_at_from(now)``, parked: the worker slot is freed."""
        if self._take_key(step_key, StepKind.WAIT, "") is not None:
            return
        with _Spanned(self._span(StepKind.WAIT, step_key)):
            now = self.clock.now()
            wake_at = wake_at_from(now)
            if wake_at <= now:
                await self._record(step_key, StepKind.WAIT, "", "null")
            else:
                await self.flush_deferred()
                parked = await self.store.begin_wait(
                    self.execution_id,
                    self.attempt,
                    step_key,
                    WaitKind.TIMER,
                    wake_at,
                    now,
                    state=self.state_if_changed(),
                )
                await self._after_park(parked, step_key)

    # steps: events and humans ------------------------------------------------------------
    async def publish(
        self,
        step_key: str,
        topic: str,
        data: Any,
        event_type: str | None,
    ) -> None:
        """Publish an event exactly once, however often the run replays."""
        if self._take_key(step_key, StepKind.PUBLISH, "") is not None:
            return
        check_topic(topic)
        await self.flush_deferred()
        now = self.clock.now()
        event = NewEvent(
            id=str(uuid.uuid4()),
            topic=topic,
            event_type=event_type,
            data=self.encode(f"data of event published at step {step_key!r}", data),
            created_at=now,
        )
        row = StepRow(step_key, StepKind.PUBLISH, "", "null", None, self.attempt, now)
        step = (self.execution_id, self.attempt, row)
        if await self.store.publish_events([event], self.clock.now(), step=step) is None:
            self._refused()
        self.recorded[step_key] = row

    async def wait_for_event(
        self,
        step_key: str,
        kind: WaitKind,
        topic: str,
        cursor: int,
        timeout: float | None,
        *,
        prepare: Callable[[], Awaitable[str | None]] | None = None,
        on_parked: Callable[[float | None], None] | None = None,
    ) -> Any:
        """The first event on ``topic`` after ``cursor`` (parked until it comes).

        ``prepare`` runs first on the attempt that reaches the wait and returns
        what the wait shows (a suspend announces itself and shows its data);
        ``on_parked`` is told the timeout once the wait is stored, if the run
        had to park.
        """
        recorded = self._take_key(step_key, kind.step_kind, "")
        if recorded is not None:
            return self._replay(recorded)
        with _Spanned(self._span(kind.step_kind, step_key)):
            value = await self._wait_for_event(
                step_key, kind, topic, cursor, timeout, prepare, on_parked
            )
        return value

    async def _wait_for_event(
        self,
        step_key: str,
        kind: WaitKind,
        topic: str,
        cursor: int,
        timeout: float | None,
        prepare: Callable[[], Awaitable[str | None]] | None,
        on_parked: Callable[[float | None], None] | None,
    ) -> Any:
        await self.flush_deferred()  # before prepare, which may be user code
        data = None if prepare is None else await prepare()
        now = self.clock.now()
        wake_at = None if timeout is None else now + timeout
        outcome = await self.store.wait_for_event(
            self.execution_id,
            self.attempt,
            step_key,
            kind,
            topic,
            cursor,
            wake_at,
            data,
            now,
            state=self.state_if_changed(),
        )
        if not outcome.accepted:
            self._refused()
        if outcome.output is None:
            if on_parked is not None:
                on_parked(wake_at)
            return self._replay(await self._after_park(True, step_key))
        row = StepRow(step_key, kind.step_kind, "", outcome.output, None, self.attempt, now)
        self.recorded[step_key] = row
        return serialization.loads(outcome.output)

    def replaying(self) -> bool:
        """Whether recorded steps remain ahead: the code is being replayed, not run anew."""
        return self._unreached > 0

    def is_recorded(self, step_key: str) -> bool:
        """Whether ``step_key`` replays (so a step may skip the reads it needs only to run)."""
        return step_key in self.recorded

    # code changes under running executions (see :mod:`.versioning`) --------------------
    async def patched(self, name: str) -> bool:
        """Whether this run takes the new code of patch ``name``: True unless the run
        reached this point before the patch existed (recorded steps lie ahead);
        recorded as a marker, so the answer never changes for this run."""
        key = self._patch_key(name, "patched")
        recorded = self._take_key(key, StepKind.PATCH, "")
        if recorded is not None:
            return bool(self._replay(recorded))
        new_code = not self.ahead
        await self._record(key, StepKind.PATCH, "", "true" if new_code else "false")
        return new_code

    async def deprecate_patch(self, name: str) -> None:
        """The old branch of patch ``name`` is gone: accept runs that took the new one
        (and runs reaching this point now, recorded as such), refuse the others."""
        key = self._patch_key(name, "deprecate_patch")
        recorded = self._take_key(key, StepKind.PATCH, "")
        if recorded is not None:
            if self._replay(recorded) is False:
                raise PatchRemovedError(name)
        elif self.ahead:  # passed this point before the patch existed: the old branch
            raise PatchRemovedError(name)
        else:  # recorded, so that a replay of this run later is not taken for an old one
            await self._record(key, StepKind.PATCH, "", "true")

    def _patch_key(self, name: str, method: str) -> str:
        """The marker key of patch ``name``, asked from the workflow's own flow only:
        in a parallel branch, which recorded steps lie ahead depends on scheduling."""
        key = patch_key(name)
        if self.main_task is not None and asyncio.current_task() is not self.main_task:
            raise WorkflowDefinitionError(
                f"ctx.{method}({name!r}) was called inside a parallel branch (asyncio.gather "
                "or a task); call it from the workflow's own flow, before the branches start"
            )
        return key

    async def report_unreached(self, where: str) -> None:
        """Report recorded steps this code passed by (once per attempt), when only
        the workflow's own task runs: parallel branches may still reach theirs."""
        unreached = sorted(self.ahead - self._reported)
        if not unreached or asyncio.current_task() is not self.main_task or not self._alone():
            return
        self._reported.update(unreached)
        await self.flush_deferred()
        log.warning(
            "replay mismatch: recorded steps not reached by this code",
            extra={
                "fields": {
                    "execution_id": self.execution_id,
                    "workflow_id": self.definition.id,
                    "attempt": self.attempt,
                    "steps": unreached,
                    "where": where,
                }
            },
        )
        await self.store.add_history(
            self.execution_id,
            self.attempt,
            HistoryEvent.REPLAY_MISMATCH,
            orjson.dumps(mismatch_detail(unreached, where)).decode(),
            self.clock.now(),
        )

    # steps: child workflows --------------------------------------------------------------
    async def start_children(
        self,
        step_key: str,
        prepare: Callable[[], Awaitable[Sequence[NewExecution]]],
        output_of: Callable[[Sequence[NewExecution]], Any],
    ) -> Any:
        """Start the children ``prepare`` makes, recording ``output_of(children)``
        (their handles) in the same transaction; returns it (replayed: as stored)."""
        recorded = self._take_key(step_key, StepKind.INVOKE, "")
        if recorded is not None:
            return self._replay(recorded)
        with _Spanned(self._span(StepKind.INVOKE, step_key)):
            children = self._traced(await prepare())
            value = output_of(children)
            output = self.encode(f"handles of step {step_key!r}", value)
            if not await self._start_children(step_key, children, wait=False, output=output):
                self._refused()
        now = self.clock.now()
        self.recorded[step_key] = StepRow(
            step_key, StepKind.INVOKE, "", output, None, self.attempt, now
        )
        return value

    async def wait_for_children(
        self,
        step_key: str,
        prepare: Callable[[], Awaitable[Sequence[NewExecution]]],
        timeout: float | None,
        *,
        shared_output: bool = False,
        shape: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Start the children ``prepare`` makes and park until the last one ends;
        returns every child's outcome, in input order, passed through ``shape``
        if given (a pure function of the decoded outcomes). Replayed and
        ``shared_output``: perhaps as decoded and shaped before, see :meth:`run_step`."""
        recorded = self._take_key(step_key, StepKind.CHILDREN, "")
        if recorded is not None:
            return self._replay(recorded, shared_output, shape)
        with _Spanned(self._span(StepKind.CHILDREN, step_key)):
            children = self._traced(await prepare())
            if not children:
                await self._record(step_key, StepKind.CHILDREN, "", "[]")
                value: Any = [] if shape is None else shape([])
            else:
                parked = await self._start_children(step_key, children, wait=True, timeout=timeout)
                value = self._replay(await self._after_park(parked, step_key), False, shape)
        return value

    def _traced(self, children: Sequence[NewExecution]) -> Sequence[NewExecution]:
        """Children carry the current span's context, so their spans join this trace."""
        tracer = self.tracer
        if tracer is not None:
            parent = tracer.traceparent()
            for child in children:
                child.trace_context = parent
        return children

    async def _start_children(
        self,
        step_key: str,
        children: Sequence[NewExecution],
        *,
        wait: bool,
        output: str | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Start ``children`` in one fenced transaction with this step: recorded
        with ``output`` at once, or (``wait``) parked until the last one ends."""
        now = self.clock.now()
        eager = self.eager
        claim = None if eager is None else eager.reserve(children)
        taken: Sequence[Claimed] = ()
        deferred, self._deferred = self._deferred, None
        try:
            started = await self.store.start_children(
                self.execution_id,
                self.attempt,
                step_key,
                children,
                wait=wait,
                output=output,
                now=now,
                state=self.state_if_changed(),
                wake_at=None if timeout is None else now + timeout,
                claim=claim,
                steps=() if deferred is None else (deferred,),
            )
            taken = started.claimed
        finally:
            if eager is not None and claim is not None:
                eager.started(claim, taken)
        if started and deferred is not None:
            self.recorded[deferred.step_key] = deferred
        return bool(started)

    # keys, replay, records and parking ------------------------------------------------
    def _span(self, kind: StepKind, step_key: str, name: str = "") -> OpenSpan | None:
        """The step's span when tracing is on (ended by ``_Spanned``), else None."""
        tracer = self.tracer
        return None if tracer is None else tracer.step_span(self, kind, step_key, name)

    def _take_key(self, step_key: str, kind: StepKind, name: str) -> StepRow | None:
        """Reserve ``step_key`` for this run; returns its record if replaying."""
        recorded = self.recorded.get(step_key) if type(step_key) is str else None
        if recorded is None:
            check_step_key(step_key)  # a recorded key passed it when it was recorded
        elif self.ahead:
            self.ahead.discard(step_key)
        if step_key in self.used_keys:
            raise DuplicateStepKeyError(step_key)
        self.used_keys.add(step_key)
        if recorded is not None:
            self._unreached -= 1
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        if recorded is not None and (recorded.kind != kind or recorded.name != name):
            raise NonDeterminismError(
                step_key, _describe(recorded.kind, recorded.name), _describe(kind, name)
            )
        if recorded is None and self.stop_reason is None and time.monotonic() >= self.lease_until:
            self.stop(StopReason.LEASE_EXPIRED)
        if recorded is None and self.stop_reason is not None:
            raise Stopped(self.stop_reason)
        return recorded

    def _replay(
        self, recorded: StepRow, shared: bool = False, shape: Callable[[Any], Any] | None = None
    ) -> Any:
        if recorded.state is not None:
            self.state = self.definition.initial_state(serialization.loads(recorded.state))
            self._state_json = recorded.state
        if recorded.error is not None:
            raise step_error_from_record(recorded)
        if shared and self.decoded is not None:
            return self.decoded.decode(self.execution_id, recorded, shape)
        value = serialization.loads(recorded.output)
        return value if shape is None else shape(value)

    async def _record(
        self,
        step_key: str,
        kind: StepKind,
        name: str,
        output: str | None,
        error: str | None = None,
        *,
        started_at: float | None = None,
    ) -> None:
        if self._deferred is not None:  # (checked here: a coroutine apiece costs every step)
            await self.flush_deferred()
        await self._write(self._row(step_key, kind, name, output, error, started_at))

    def _row(
        self,
        step_key: str,
        kind: StepKind,
        name: str,
        output: str | None,
        error: str | None,
        started_at: float | None,
    ) -> StepRow:
        return StepRow(
            step_key,
            kind,
            name,
            output,
            error,
            self.attempt,
            self.clock.now(),
            state=self.state_if_changed(),
            started_at=started_at,
        )

    async def _write(self, row: StepRow) -> None:
        if not await self.store.record_step(self.execution_id, self.attempt, row):
            self._refused()
        self.recorded[row.step_key] = row

    async def flush_deferred(self) -> None:
        """Write the deferred step, if any (see ``run_step``); refused: the run stops."""
        row, self._deferred = self._deferred, None
        if row is not None:
            await self._write(row)

    async def _after_park(self, parked: bool, step_key: str) -> StepRow:
        """A wait was stored: return its outcome, or leave this attempt.

        The database holds the run as ``waiting`` either way, so a crash from
        here on loses nothing. If the worker allows it (spare slots, no other
        branch running), the coroutine stays in memory: when whatever resolves
        the wait requeues the run, this worker claims it again and the run
        continues here, without replaying from the top. That is what keeps an
        agent making N tool calls at O(N) store work and time.
        """
        if not parked:
            self._refused()
        if self.ahead:
            await self.report_unreached(f"waiting on {step_key!r}")
        if self.holder is not None and self._alone():
            claimed = await self.holder(self, step_key)
            if claimed is not None:
                self.row, self.attempt = claimed.execution, claimed.execution.attempt
                self.event_cursor = claimed.event_cursor
                # The store may hand the wait's outcome over with the claim that
                # resumed it (see Store.complete_and_resume); else it is read.
                step = _outcome_of(claimed, step_key) or await self.store.get_step(
                    self.execution_id, step_key
                )
                if step is None:  # requeued for another reason: start over by replay
                    await self.store.release_execution(
                        self.execution_id, self.attempt, self.clock.now()
                    )
                    self.stop(StopReason.RELEASED)
                    raise Suspended(step_key)
                self.recorded[step_key] = step
                return step
        self.parked_on = step_key
        self.stop(StopReason.SUSPENDED)
        raise Suspended(step_key)

    def _alone(self) -> bool:
        me = asyncio.current_task()
        return all(task is me or task.done() for task in self.tasks)

    def _refused(self) -> NoReturn:
        self.stop(StopReason.FENCED)
        raise Stopped(_FENCED)

    def let_go(self) -> None:
        """Drop what only a live attempt needs, once it is over (its outcome stays).

        A context copied while the run ran (``current_run`` is set in it) can
        outlive the attempt by minutes: an HTTP client's cancelled 600-second
        timeout stays in the event loop's timer heap, with its context, until it
        would have fired, and asyncio purges cancelled timers only past 100 of
        them. Each such context kept this object and with it every recorded step
        (2N rows for an agent on its N-th tool call): tens of attempts' rows live
        at once, walked by every full collection. What stays is what the
        worker's log line reads."""
        self.recorded = {}
        self.used_keys = set()
        self.ahead = set()
        self.tasks = set()
        self.main_task = None
        self.topic_positions = {}
        self.topic_locks = {}
        self.decorated_step_counts = {}
        self._deferred = None
        self.state = None
        self._state_json = None

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


def _outcome_of(claimed: Claimed, step_key: str) -> StepRow | None:
    for step in claimed.steps:
        if step.step_key == step_key:
            return step
    return None


def _retry_key(step_key: str, retry: int) -> str:
    return f"{step_key}::retry{retry}"


def _describe(kind: str, name: str) -> str:
    return f"ctx.step.{kind}({name})" if name else f"ctx.step.{kind}"


class _Spanned:
    """A step's span (or None, tracing off) around a block, ended as the block ends:
    with its exception, if it raised one. A class, not a generator, because it
    wraps every step."""

    __slots__ = ("span",)

    def __init__(self, span: OpenSpan | None) -> None:
        self.span = span

    def __enter__(self) -> OpenSpan | None:
        return self.span

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if self.span is not None:
            self.span.end(error)
