"""Custom spans. A light no-op-safe span until OpenTelemetry is wired in."""

from __future__ import annotations

import contextvars
import time
from types import TracebackType
from typing import Any

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "polos_current_span", default=None
)


def get_current_span() -> Span | None:
    """The innermost ``ctx.step.trace`` span open in this task, if any."""
    return _current.get()


class Span:
    """Records its name, attributes and duration; usable with ``with`` and ``async with``."""

    def __init__(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        self.name = name
        self.attributes: dict[str, Any] = dict(attributes or {})
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.error: BaseException | None = None
        self._token: contextvars.Token[Span | None] | None = None

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

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
