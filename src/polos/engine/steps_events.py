"""``ctx.step`` for events and humans: publish, wait for an event, suspend, resume.

Which events a wait sees: the first event on its topic published after the
run was submitted and after every event an earlier wait of the run received
on that topic. The starting position is stored with the run when it is
submitted, so it is the same on every attempt: an event published while a
worker is dead, or while the run is on its way to the wait, is delivered just
as it would have been without the crash; one published before the run was
submitted is not (read those with ``events.stream_topic``). Two waits on one
topic get two different events, in publish order (waits on one topic in
parallel branches take turns). A wait that was recorded
returns its recorded event on replay. A suspend listens on a topic of its
own and sees every event ever published there: a resume sent before the run
reaches the suspend is kept and delivered when it gets there.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import serialization
from ..durations import parse_duration
from ..store.vocabulary import WaitKind
from ..types import EventPayload, ResumeEvent, check_topic, suspend_topic, workflow_topic
from .run import ExecutionRun

#: The step that announces a suspend on the run tree's topic is ``<key>.announce``.
ANNOUNCE_SUFFIX = ".announce"


def approval_url(root_execution_id: str, step_key: str) -> str:
    """Where a person approves a suspend (served by ``polos server``;
    ``POLOS_APPROVAL_BASE_URL`` sets the host part, default ``http://localhost:8080``)."""
    base = os.environ.get("POLOS_APPROVAL_BASE_URL", "http://localhost:8080").rstrip("/")
    return f"{base}/approve/{root_execution_id}/{step_key}"


class EventSteps:
    _run: ExecutionRun

    async def publish_event(
        self, step_key: str, topic: str, data: Any = None, event_type: str | None = None
    ) -> None:
        """Publish an event durably: exactly once, however often the run replays."""
        await self._run.publish(step_key, topic, data, event_type)

    async def publish_workflow_event(
        self, step_key: str, data: Any = None, event_type: str | None = None
    ) -> None:
        """Publish on the run tree's own topic (``ctx.topic``), where
        ``events.stream_workflow`` consumers see it; exactly once."""
        row = self._run.row
        topic = workflow_topic(
            row.root_workflow_id or row.workflow_id, row.root_execution_id or row.id
        )
        await self.publish_event(step_key, topic, data, event_type)

    async def wait_for_event(
        self, step_key: str, topic: str, timeout: float | str | timedelta | None = None
    ) -> EventPayload:
        """Wait (worker freed) for the next event on ``topic``.

        With ``timeout``, raises ``WaitTimeoutError`` here if nothing came.
        """
        check_topic(topic)
        run = self._run
        async with run.topic_locks.setdefault(topic, asyncio.Lock()):
            event = await run.wait_for_event(
                step_key, WaitKind.EVENT, topic, run.event_position(topic), _seconds(timeout)
            )
            run.saw_event(event)
        return EventPayload.model_validate(event)

    async def suspend(
        self, step_key: str, data: Any = None, timeout: float | str | timedelta | None = None
    ) -> ResumeEvent:
        """Pause for a person (worker freed); ``data`` is shown to whoever resumes.

        Announces itself on the run tree's topic as a ``suspend_<step_key>``
        event carrying ``data`` (a dict gets an ``_approval_url``) and tells
        the worker's channels. Returns the resume event as Polos does: a dict
        whose ``"data"`` is what the resumer sent.
        """
        run = self._run
        root = run.row.root_execution_id or run.execution_id
        root_workflow = run.row.root_workflow_id or run.row.workflow_id
        announced: Any = None

        async def announce() -> str:
            """On the attempt that reaches the suspend: what it shows, announced once."""
            nonlocal announced
            shown = run.encode(f"data of suspend step {step_key!r}", data)
            announced = serialization.loads(shown)
            if isinstance(announced, dict):
                announced["_approval_url"] = approval_url(root, step_key)
            # Published as a step of its own, so the announcement goes out once.
            await run.publish(
                f"{step_key}{ANNOUNCE_SUFFIX}",
                workflow_topic(root_workflow, root),
                announced,
                f"suspend_{step_key}",
            )
            return shown

        def tell_channels(wake_at: float | None) -> None:
            if run.on_suspend is not None:
                run.on_suspend(_notice(run, step_key, announced, wake_at))

        event = await run.wait_for_event(
            step_key,
            WaitKind.SUSPEND,
            suspend_topic(root, step_key),
            0,
            _seconds(timeout),
            prepare=announce,
            on_parked=tell_channels,
        )
        return _resume_event(event)

    async def resume(
        self,
        step_key: str,
        suspend_step_key: str,
        suspend_execution_id: str,
        suspend_workflow_id: str,
        data: Any = None,
    ) -> None:
        """Resume another run tree's suspend (durably, exactly once); the ids are the
        suspended tree's root execution id (or the suspended run's own id) and step key."""
        del suspend_workflow_id  # part of the Polos API shape; the topic needs only the rest
        root = suspend_execution_id
        if not self._run.is_recorded(step_key):  # a replay does no I/O
            row = await self._run.store.get_execution(suspend_execution_id)
            if row is not None and row.root_execution_id:
                root = row.root_execution_id
        await self.publish_event(step_key, suspend_topic(root, suspend_step_key), data, "resume")


def _seconds(timeout: float | str | timedelta | None) -> float | None:
    return None if timeout is None else parse_duration(timeout)


def _resume_event(value: Any) -> ResumeEvent:
    """The stored resume event as Polos's dict (``created_at`` as ISO 8601 text)."""
    return ResumeEvent(EventPayload.model_validate(value).model_dump(mode="json"))


def _notice(run: ExecutionRun, step_key: str, shown: Any, wake_at: float | None) -> dict[str, Any]:
    """What channels are told about a suspend, read from the data it shows
    (``_form`` with title, description, fields and context; ``_notify``; ``_source``; ``_tool``)."""
    record: dict[str, Any] = shown if isinstance(shown, dict) else {}
    form: dict[str, Any] = record["_form"] if isinstance(record.get("_form"), dict) else {}
    notify: dict[str, Any] = record["_notify"] if isinstance(record.get("_notify"), dict) else {}
    root = run.row.root_execution_id or run.execution_id
    expires = form.get("expires_at") or form.get("expiresAt")
    if expires is None and wake_at is not None:
        expires = datetime.fromtimestamp(wake_at, UTC).isoformat()
    return {
        "workflow_id": run.row.root_workflow_id or run.row.workflow_id,
        "execution_id": root,
        "step_key": step_key,
        "approval_url": approval_url(root, step_key),
        "title": form.get("title"),
        "description": notify.get("message") or form.get("description"),
        "source": record.get("_source"),
        "tool": record.get("_tool"),
        "context": form.get("context"),
        "form_fields": form.get("fields"),
        "expires_at": expires,
        "channel_overrides": notify or None,
    }
