"""The process's current ``Polos`` (or an embedded default) for calls without a client."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .. import types
from ..engine.run import current_run
from ..errors import InsideWorkflowError

if TYPE_CHECKING:
    from .client import ClientLike
    from .polos import Polos

_current: Polos | None = None
_default: Polos | None = None


def set_current(polos: Polos | None) -> None:
    global _current
    _current = polos


def current_polos() -> Polos | None:
    return _current


def forbid_inside_workflow(call: str) -> None:
    if current_run.get() is not None:
        raise InsideWorkflowError(
            f"{call} cannot be called from inside a workflow, because it would not be "
            "durable; use ctx.step.invoke / ctx.step.invoke_and_wait instead"
        )


def default_client() -> ClientLike:
    """The current ``Polos``; else start an embedded one for this event loop."""
    if _current is not None:
        return _current
    global _default
    loop = asyncio.get_running_loop()
    if _default is None or _default.loop is not loop:
        from .polos import Polos

        _default = Polos()
        _default.start_in_background()
    return _default


types.client_resolver = default_client
