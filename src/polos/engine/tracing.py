"""The narrow hook through which the engine reports runs and steps to a tracer.

The engine knows nothing of OpenTelemetry or exporters: a worker gives each
run a :class:`Tracer` (``run.tracer``) when tracing is on, and ``None`` when it
is off, so the step path pays one attribute test and nothing else.
:mod:`polos.observability.tracing` implements the hook with OpenTelemetry.

What is reported: each attempt of a run, and each step that *runs* on this
attempt. Steps replayed from the store are not reported again: their spans
were emitted by the attempt that ran them.
"""

from __future__ import annotations

import contextvars
import time
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .run import ExecutionRun


class OpenSpan(Protocol):
    """A span the engine opened; it is the current span until ``end``."""

    def set_attribute(self, key: str, value: Any) -> None: ...

    def end(self, error: BaseException | None = None) -> None:
        """Close the span (as failed with ``error`` if given) and stop it being current."""


class Tracer(Protocol):
    def run_span(self, run: ExecutionRun) -> OpenSpan:
        """One attempt of ``run`` starts (its parent: ``run.row.trace_context``)."""

    def step_span(self, run: ExecutionRun, kind: str, step_key: str, name: str) -> OpenSpan:
        """A step of ``run`` starts running (never called for a replayed step)."""

    def traceparent(self) -> str | None:
        """The W3C traceparent of the current span, stored with the runs it starts."""

    def custom_span(
        self, name: str, attributes: dict[str, Any] | None
    ) -> AbstractContextManager[Any]:
        """``ctx.step.trace``: a span of the user's own, yielded by ``with``."""


_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "polos_current_span", default=None
)


def get_current_span() -> Span | None:
    """The innermost untraced ``ctx.step.trace`` span open in this task, if any."""
    return _current.get()


class Span:
    """``ctx.step.trace`` when tracing is off: keeps its name, attributes and times
    in memory (nothing is exported), with the span methods user code calls."""

    def __init__(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        self.name = name
        self.attributes: dict[str, Any] = dict(attributes or {})
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.error: BaseException | None = None
        self._token: contextvars.Token[Span | None] | None = None

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)

    def add_event(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        self.events.append((name, dict(attributes or {})))

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        self.error = exception

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        pass

    def is_recording(self) -> bool:
        return False

    def __enter__(self) -> Span:
        self.started_at = time.time()
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.ended_at = time.time()
        self.error = exc
        if self._token is not None:
            _current.reset(self._token)
            self._token = None

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class TracedSpan:
    """``ctx.step.trace`` when tracing is on: the tracer's span, by ``with`` or ``async with``."""

    def __init__(self, manager: AbstractContextManager[Any]) -> None:
        self._manager = manager

    def __enter__(self) -> Any:
        return self._manager.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._manager.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self.__exit__(exc_type, exc, tb)


def user_span(run: ExecutionRun, name: str, attributes: dict[str, Any] | None) -> Any:
    """What ``ctx.step.trace(name, attributes)`` returns.

    Workflow code runs again on every attempt, so a span opened while the run
    is still replaying recorded steps is one an earlier attempt exported too:
    it is exported again, marked ``polos.replay = true``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"ctx.step.trace needs a non-empty span name, got {name!r}")
    tracer = run.tracer
    if tracer is None:
        return Span(name, attributes)
    if run.replaying():
        attributes = {**(attributes or {}), "polos.replay": True}
    return TracedSpan(tracer.custom_span(name, attributes))
