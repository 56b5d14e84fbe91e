"""Following a run's output into a channel (a Slack thread, say).

The run tree's events are read with :func:`polos.events.stream_workflow`
from its start, so a follower that starts late misses nothing; the stream
ends when the root run ends. ``per_step`` forwards tool calls, failed steps
and the root's end; ``final`` only the root's end; ``none`` nothing.
"""

from __future__ import annotations

from typing import Any

from .channel import Channel, ChannelContext, ChannelOutputMode

_FINISH = frozenset({"workflow_finish", "agent_finish"})
_STEPS = frozenset({"tool_call", "step_finish"})


def wanted(event: Any, mode: ChannelOutputMode, root_execution_id: str) -> bool:
    kind = getattr(event, "event_type", None)
    if mode == "none":
        return False
    if kind in _FINISH:
        data = event.data if isinstance(event.data, dict) else {}
        meta = data.get("_metadata") or {}
        return bool(meta.get("execution_id") == root_execution_id)
    return mode == "per_step" and kind in _STEPS


async def forward_output(
    client: Any,
    channel: Channel,
    context: ChannelContext,
    workflow_id: str,
    execution_id: str,
    mode: ChannelOutputMode = "per_step",
) -> int:
    """Send the run's output events to ``channel`` until the run ends; how many were forwarded.

    A failed send stops the forwarding (the channel's error is raised): the
    run itself is not affected.
    """
    from ..events import stream_workflow  # the events module sits above the runtime

    sent = 0
    async for event in stream_workflow(client, workflow_id, execution_id, last_sequence_id=0):
        if wanted(event, mode, execution_id):
            await channel.send_output(context, event)
            sent += 1
    return sent
