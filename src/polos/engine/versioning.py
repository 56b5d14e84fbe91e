"""Changing code under running executions: patch markers and replay checks.

A run replays its recorded steps by key, so code may change while a run
waits. Two things make that safe:

- ``ctx.patched(name)`` lets new code branch on whether the run reached this
  point before the change. The answer is recorded as a marker step (kind
  ``patch``, key ``patched:<name>``), so it never changes for that run.
- A replay whose recorded steps the code never reaches (a renamed key, a
  removed step) is reported: an entry ``replay_mismatch`` in the run's
  history and a warning in the worker's log, naming the keys.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from ..store.records import StepRow

#: Marker steps of ``ctx.patched`` are kept under this prefix and the patch name.
PATCH_KEY_PREFIX = "patched:"

# Steps Polos records beside a user's step and may legitimately never read
# again: a durable retry's pause (the step's own record replaces it) and a
# suspend's announcement (published once, on the attempt that reached it).
_INTERNAL_KEY = re.compile(r"(::retry\d+|\.announce)$")


def patch_key(name: str) -> str:
    """The marker step key of patch ``name``, or a clear error for a bad name."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"a patch name must be a non-empty string, got {name!r}")
    return PATCH_KEY_PREFIX + name


def expected_steps(recorded: dict[str, StepRow]) -> set[str]:
    """The recorded keys the code is expected to reach again on replay."""
    return {
        key
        for key in recorded
        if not key.startswith(PATCH_KEY_PREFIX) and not _INTERNAL_KEY.search(key)
    }


class PatchCheck:
    """What ``ctx.patched`` returns: awaited, it is the answer.

    Used as a bool without ``await`` (``if ctx.patched("x"):``) a coroutine
    would always be true and every old run would take the new branch; this
    raises instead.
    """

    __slots__ = ("_make", "_name")

    def __init__(self, name: str, make: Callable[[], Awaitable[bool]]) -> None:
        self._name = name
        self._make = make

    def __await__(self) -> Generator[Any, None, bool]:
        return self._make().__await__()

    def __bool__(self) -> bool:
        raise TypeError(
            f"ctx.patched({self._name!r}) must be awaited: write "
            f"`if await ctx.patched({self._name!r}):`"
        )


def mismatch_detail(unconsumed: list[str], where: str) -> dict[str, Any]:
    """The history entry of a replay that passed recorded steps by."""
    return {
        "unconsumed": unconsumed,
        "where": where,
        "hint": "these recorded steps were not reached by the current code (a renamed or "
        "removed step key?): a renamed step ran again under its new key. Keep old keys, "
        "or branch with ctx.patched() (see docs/durability.md)",
    }
