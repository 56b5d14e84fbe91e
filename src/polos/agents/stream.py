"""Following a streaming agent run: ``StreamResult`` and ``AgentStreamHandle``.

``result = await agent.stream(client, "...")`` starts a run with
``"streaming": True`` and returns a :class:`StreamResult`:

- ``async for chunk in result.text_chunks``: the text as it is written;
- ``async for event in result.events``: every event of the run tree
  (``text_delta``, ``tool_call``, ``step_start`` / ``step_finish``,
  ``tool_finish``, ``suspend_<key>``...), ending with the agent's
  ``agent_finish``;
- ``await result.text()``: the whole text; ``await result.result()``: the
  ``AgentResult``.

Each iteration reads the run tree's events from the start, so a client that
comes late misses nothing. If the run fails, iterating raises its failure
once the events it published were delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..store.vocabulary import Status
from ..types import ExecutionHandle
from .results import AgentResult, AgentStreamEvent

__all__ = ["AgentStreamHandle", "FullEventIterator", "StreamResult", "TextChunkIterator"]


class AgentStreamHandle:
    """Async iterator over the events of an agent run's tree, up to its ``agent_finish``."""

    def __init__(
        self,
        client: Any,
        agent_run_id: str,
        root_workflow_id: str,
        root_execution_id: str,
        created_at: str | None = None,
    ) -> None:
        self.client = client
        self.agent_run_id = agent_run_id
        self.root_workflow_id = root_workflow_id
        self.root_execution_id = root_execution_id or agent_run_id
        self.topic = f"workflow/{self.root_workflow_id}/{self.root_execution_id}"
        self.last_valid_event_id: str | None = None
        self.created_at = created_at

    async def __aiter__(self) -> AsyncIterator[Any]:
        from ..events import stream_workflow

        # From the start of the tree's topic: a client that comes late misses nothing.
        async for event in stream_workflow(
            self.client, self.root_workflow_id, self.root_execution_id, last_sequence_id=0
        ):
            self.last_valid_event_id = event.id
            yield event
            data = event.data if isinstance(event.data, dict) else {}
            meta = data.get("_metadata") or {}
            if event.event_type == "agent_finish" and meta.get("execution_id") == self.agent_run_id:
                if data.get("status") not in (None, Status.COMPLETED):
                    await self._raise_failure()
                return
        await self._raise_failure()  # the tree ended without this agent finishing

    async def _raise_failure(self) -> None:
        info = await self.client.get_execution(self.agent_run_id)
        if info.status in (Status.FAILED, Status.CANCELLED):
            await self.client.wait_for_result(self.agent_run_id, timeout=None)  # raises it

    def __repr__(self) -> str:
        return (
            f"AgentStreamHandle(agent_run_id={self.agent_run_id}, "
            f"root_execution_id={self.root_execution_id})"
        )


class _Events:
    def __init__(self, result: StreamResult) -> None:
        self.result = result
        self._events: AsyncIterator[Any] | None = None

    def _next_event(self) -> Any:
        if self._events is None:
            r = self.result
            handle = AgentStreamHandle(
                r.client, r.agent_run_id, r.root_workflow_id, r.root_execution_id, r.created_at
            )
            self._events = handle.__aiter__()
        return self._events.__anext__()


class TextChunkIterator(_Events):
    """``result.text_chunks``: the text of ``text_delta`` events, chunk by chunk."""

    def __aiter__(self) -> TextChunkIterator:
        return self

    async def __anext__(self) -> str:
        while True:
            event = await self._next_event()
            if event.event_type == "text_delta" and isinstance(event.data, dict):
                return str(event.data.get("content") or "")


class FullEventIterator(_Events):
    """``result.events``: every event (``event.event_type``, ``event.data``)."""

    def __aiter__(self) -> FullEventIterator:
        return self

    async def __anext__(self) -> Any:
        return await self._next_event()


class StreamResult:
    """A streaming agent run: its ids, its events, its text and its result."""

    def __init__(self, execution_handle: ExecutionHandle, client: Any) -> None:
        self.client = client
        self.handle = execution_handle
        if not execution_handle.root_execution_id:
            execution_handle.root_execution_id = execution_handle.id
        if not execution_handle.root_workflow_id:
            execution_handle.root_workflow_id = execution_handle.workflow_id
        #: The run's execution id.
        self.agent_run_id: str = execution_handle.id
        #: The run tree's topic, where the chunks and tool calls are published.
        self.topic = (
            f"workflow/{execution_handle.root_workflow_id}/{execution_handle.root_execution_id}"
        )

    # the handle's fields ------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.handle.id

    @property
    def execution_id(self) -> str:
        return self.handle.id

    @property
    def workflow_id(self) -> str:
        return self.handle.workflow_id

    @property
    def created_at(self) -> str | None:
        created = self.handle.created_at
        return created.isoformat() if created is not None else None

    @property
    def parent_execution_id(self) -> str | None:
        return self.handle.parent_execution_id

    @property
    def root_workflow_id(self) -> str:
        return self.handle.root_workflow_id or self.handle.workflow_id

    @property
    def root_execution_id(self) -> str:
        return self.handle.root_execution_id or self.handle.id

    @property
    def session_id(self) -> str | None:
        return self.handle.session_id

    @property
    def user_id(self) -> str | None:
        return self.handle.user_id

    @property
    def step_key(self) -> str | None:
        return self.handle.step_key

    async def get(self) -> Any:
        """The run's current state (as ``handle.get()``)."""
        return await self.handle.get(self.client)

    def to_dict(self) -> dict[str, Any]:
        return self.handle.to_dict()

    # following the run ------------------------------------------------------------------
    @property
    def text_chunks(self) -> TextChunkIterator:
        return TextChunkIterator(self)

    @property
    def events(self) -> FullEventIterator:
        return FullEventIterator(self)

    async def text(self) -> str:
        """All the streamed text, once the run is over."""
        return "".join([chunk async for chunk in self.text_chunks])

    async def result(self, timeout: float | None = 600.0) -> AgentResult:
        """The run's ``AgentResult`` (waits for it; raises the run's failure)."""
        result: AgentResult = await self.handle.result(self.client, timeout=timeout)
        return result

    async def __aiter__(self) -> AsyncIterator[AgentStreamEvent]:
        """Every event as an ``AgentStreamEvent``, then ``done`` with the result."""
        async for event in self.events:
            data = event.data if isinstance(event.data, dict) else {}
            kind = event.event_type or "event"
            text = str(data.get("content") or "") if kind == "text_delta" else ""
            yield AgentStreamEvent(type=kind, text=text, data=data)
        yield AgentStreamEvent(type="done", result=await self.result())

    def __repr__(self) -> str:
        return f"StreamResult(agent_run_id={self.agent_run_id}, topic={self.topic})"


#: Earlier name of :class:`StreamResult`.
AgentStream = StreamResult
