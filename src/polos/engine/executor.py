"""Run one attempt of one execution, from replay to its outcome.

Outcomes: the function returns (complete), raises (fail), waits (the run
unwinds with ``Suspended``; the store already holds it as ``waiting``), or
loses the right to run (``Stopped``: cancelled or taken over). If the worker
itself is shutting down and cancels the task, the execution is handed back
to the queue so that another worker (or this one, later) resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from .. import serialization
from ..errors import NonDeterminismError, StoreError
from ..store.records import Claimed
from .calls import call_function
from .context import WorkflowContext
from .run import ExecutionRun, current_run
from .signals import StopReason, Unwind
from .step_errors import error_record

log = logging.getLogger("polos.engine")
_ENDED = (StopReason.COMPLETED, StopReason.FAILED)


async def execute(run: ExecutionRun) -> None:
    store, clock = run.store, run.clock
    token = current_run.set(run)
    tracer = run.tracer
    span = None if tracer is None else tracer.run_span(run)
    failure: BaseException | None = None
    run.main_task = asyncio.current_task()
    try:
        try:
            result = await _call(run)
            output = run.encode(f"result of workflow {run.definition.id!r}", result)
            await run.flush_deferred()  # a run's record holds every step it did
            if run.ahead:
                await run.report_unreached("completed")
        except Unwind:
            if run.stop_reason is StopReason.SHUTTING_DOWN:
                await store.release_execution(run.execution_id, run.attempt, clock.now())
            return
        except asyncio.CancelledError:
            run.stop(StopReason.SHUTTING_DOWN)
            await asyncio.shield(
                store.release_execution(run.execution_id, run.attempt, clock.now())
            )
            raise
        except StoreError:
            raise  # not the workflow's fault: the lease expires and a later attempt resumes
        except Exception as exc:
            failure = run.failure = exc  # the worker logs it
            if not await _flushed(run):
                return  # fenced off: the failure would be refused as well
            if run.ahead and not isinstance(exc, NonDeterminismError):
                await run.report_unreached("failed")
            run.stop(StopReason.FAILED)
            await store.fail_execution(
                run.execution_id, run.attempt, error_record(exc), clock.now(), state=run.state_now()
            )
            return
        run.stop(StopReason.COMPLETED)
        eager = run.eager
        resume = None if eager is None else eager.resume_claim(run.row.parent_execution_id)
        if eager is None or resume is None:
            await store.complete_execution(
                run.execution_id, run.attempt, output, clock.now(), state=run.state_now()
            )
        else:
            # A parent held in memory by this worker, whose wait this completion
            # may end: claimed in the same transaction (see Store.complete_and_resume).
            taken: Sequence[Claimed] = ()
            try:
                done = await store.complete_and_resume(
                    run.execution_id,
                    run.attempt,
                    output,
                    clock.now(),
                    state=run.state_now(),
                    resume=resume,
                )
                taken = done.claimed
            finally:
                eager.resumed(resume, taken)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        run.cancel_stray_tasks()
        current_run.reset(token)
        if run.decoded is not None and run.stop_reason in _ENDED:
            run.decoded.forget(run.execution_id)  # nothing replays it on this worker again
        if span is not None:
            span.set_attribute("polos.outcome", str(run.stop_reason or "stopped"))
            span.end(failure)
        run.let_go()  # a context copied during the attempt may outlive it: keep it small


async def _call(run: ExecutionRun) -> Any:
    definition = run.definition
    ctx = WorkflowContext(run)
    if not definition.takes_payload:
        return await call_function(definition.fn, (ctx,), {})
    payload = definition.coerce_payload(serialization.loads(run.row.payload))
    return await call_function(definition.fn, (ctx, payload), {})


async def _flushed(run: ExecutionRun) -> bool:
    """Write a step the run deferred (see ``ExecutionRun.run_step``); False if fenced off."""
    try:
        await run.flush_deferred()
    except Unwind:
        return False
    return True
