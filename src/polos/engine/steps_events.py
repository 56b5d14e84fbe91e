"""``ctx.step`` for events and humans: publish, wait for an event, suspend, resume.

Which events a wait sees: the first event on its topic whose sequence id is
above the last one committed when the current attempt of the run was
claimed. So an event published while the run is on its way to the wait (or
already waiting) is delivered; an older one is not (read those with
``events.stream_topic``). A suspend listens on a topic of its own and sees
every event ever published there: a resume sent before the run reaches the
suspend is kept and delivered when it gets there.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from .. import serialization
from ..durations import parse_duration
from ..store.records import WAIT_EVENT, WAIT_SUSPEND, NewEvent, StepRow
from ..types import EventPayload, suspend_topic
from .run import ExecutionRun


class EventSteps:
    _run: ExecutionRun

    async def publish_event(
        self, step_key: str, topic: str, data: Any = None, event_type: str | None = None
    ) -> None:
        """Publish an event durably: exactly once, however often the run replays."""
        run = self._run
        if run.take_key(step_key, "publish", "") is not None:
            return
        _check_topic(topic)
        event = NewEvent(
            id=str(uuid.uuid4()),
            topic=topic,
            event_type=event_type,
            data=run.encode(f"data of event published at step {step_key!r}", data),
            created_at=run.clock.now(),
        )
        row = StepRow(step_key, "publish", "", "null", None, run.attempt, event.created_at)
        if (
            await run.store.publish_events(
                [event], run.clock.now(), step=(run.execution_id, run.attempt, row)
            )
            is None
        ):
            run.refused()
        run.recorded[step_key] = row

    async def wait_for_event(
        self, step_key: str, topic: str, timeout: float | str | timedelta | None = None
    ) -> EventPayload:
        """Wait (worker freed) for the next event on ``topic``.

        With ``timeout``, raises ``WaitTimeoutError`` here if nothing came.
        """
        _check_topic(topic)
        return await self._wait(step_key, WAIT_EVENT, topic, self._run.event_cursor, timeout, None)

    async def suspend(
        self, step_key: str, data: Any = None, timeout: float | str | timedelta | None = None
    ) -> EventPayload:
        """Pause for a human; ``data`` is shown to whoever resumes. Returns the resume
        event (``.data`` holds what the resumer sent)."""
        run = self._run
        topic = suspend_topic(run.execution_id, step_key)
        shown = run.encode(f"data of suspend step {step_key!r}", data)
        return await self._wait(step_key, WAIT_SUSPEND, topic, 0, timeout, shown)

    async def resume(
        self,
        step_key: str,
        suspend_step_key: str,
        suspend_execution_id: str,
        suspend_workflow_id: str,
        data: Any = None,
    ) -> None:
        """Resume another execution's suspend (durably, exactly once)."""
        del suspend_workflow_id  # part of the Polos API shape; the topic needs only the rest
        await self.publish_event(
            step_key, suspend_topic(suspend_execution_id, suspend_step_key), data, "resume"
        )

    async def _wait(
        self,
        step_key: str,
        kind: str,
        topic: str,
        cursor: int,
        timeout: float | str | timedelta | None,
        data: str | None,
    ) -> EventPayload:
        run = self._run
        recorded = run.take_key(step_key, kind, "")
        if recorded is not None:
            return EventPayload.model_validate(run.replay(recorded))
        now = run.clock.now()
        wake_at = None if timeout is None else now + parse_duration(timeout)
        outcome = await run.store.wait_for_event(
            run.execution_id,
            run.attempt,
            step_key,
            kind,
            topic,
            cursor,
            wake_at,
            data,
            now,
            state=run.state_if_changed(),
        )
        if not outcome.accepted:
            run.refused()
        if outcome.output is None:
            step = await run.after_park(True, step_key)
            return EventPayload.model_validate(run.replay(step))
        run.recorded[step_key] = StepRow(step_key, kind, "", outcome.output, None, run.attempt, now)
        return EventPayload.model_validate(serialization.loads(outcome.output))


def _check_topic(topic: str) -> None:
    if not isinstance(topic, str) or not topic:
        raise TypeError(f"an event topic must be a non-empty string, got {topic!r}")
