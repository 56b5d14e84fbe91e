"""Channels: tell people when a run stops to wait for them.

A channel is handed a :class:`SuspendNotification` each time a run suspends
for human input (``ctx.step.suspend``, ``ask_user``, tool approvals). The
worker that parked the run sends it, concurrently to every channel, after the
wait is committed; a channel that raises is logged and never fails the run.
Delivery is at most once: a worker killed between the commit and the call
sends nothing, and the run still waits (the suspend is listed by
``polos suspended`` and ``list_suspended``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from pydantic import BaseModel, Field


class ChannelContext(BaseModel):
    """Where a run was started from (a Slack thread, say), so replies can go back there."""

    channel_id: str
    source: dict[str, Any] = Field(default_factory=dict)


ChannelOutputMode = Literal["per_step", "final", "none"]
"""What a channel is sent of a run's output: every step, only the end, or nothing."""


class SuspendNotification(BaseModel):
    """What a channel is told about one suspended run."""

    workflow_id: str
    execution_id: str
    step_key: str
    approval_url: str
    title: str | None = None
    description: str | None = None
    source: str | None = None
    tool: str | None = None
    context: dict[str, Any] | None = None
    form_fields: list[dict[str, Any]] | None = None
    expires_at: str | None = None
    channel_overrides: dict[str, Any] | None = None
    channel_context: ChannelContext | None = None


class Channel(ABC):
    """Subclass and pass instances as ``Polos(channels=[...])`` or ``Worker(channels=[...])``."""

    @property
    @abstractmethod
    def id(self) -> str:
        """A short name for the channel kind (``"slack"``, ``"email"``)."""

    @abstractmethod
    async def notify(self, notification: SuspendNotification) -> dict[str, Any] | None:
        """Deliver one notification; raise on failure (the worker logs it)."""

    @property
    def output_mode(self) -> ChannelOutputMode | None:
        return None

    async def send_output(self, context: ChannelContext, event: Any) -> None:  # noqa: B027
        """Send a run's output back to where it was started; nothing by default."""
