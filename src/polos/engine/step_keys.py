"""What a step key may be, checked the same way on every backend.

PostgreSQL refuses text holding NUL and index entries above about 2.7 KB;
SQLite takes both. A key that only one backend stores would make a workflow
that works on SQLite fail on PostgreSQL, and there, inside a shared group
commit, take other runs' records with it. So keys are checked when
``ctx.step`` is called, before anything reaches the store.
"""

from __future__ import annotations

import re

from ..errors import InvalidStepKeyError

#: The longest step key, in characters. Even at 4 UTF-8 bytes a character
#: (2 KiB) the key, with the execution id and an internal suffix added to
#: it, stays well inside PostgreSQL's index entry limit.
MAX_STEP_KEY_CHARS = 512

# Suffixes Polos appends to a user's key for steps of its own (a durable
# retry's wait, a suspend's announcement): not counted against the limit, so
# a key that was accepted stays accepted with them.
_INTERNAL_SUFFIX = re.compile(r"(::retry\d+|\.announce)$")


def check_step_key(step_key: object) -> str:
    """Return ``step_key`` if it can be stored on every backend, else raise."""
    if not isinstance(step_key, str) or not step_key:
        raise TypeError(f"a step key must be a non-empty string, got {step_key!r}")
    if len(step_key) > MAX_STEP_KEY_CHARS and (
        len(_INTERNAL_SUFFIX.sub("", step_key)) > MAX_STEP_KEY_CHARS
    ):
        raise InvalidStepKeyError(
            step_key,
            f"is {len(step_key)} characters long; the limit is {MAX_STEP_KEY_CHARS}. "
            "Keep keys short and put data in the step's arguments",
        )
    if "\x00" in step_key:
        raise InvalidStepKeyError(step_key, "holds a NUL character (\\x00), which cannot be stored")
    try:
        step_key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidStepKeyError(
            step_key,
            f"is not valid Unicode text ({exc.reason} at position {exc.start}, e.g. a lone "
            "surrogate) and cannot be encoded as UTF-8",
        ) from None
    return step_key
