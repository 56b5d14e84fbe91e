"""Calling user code: async functions on the loop, plain ones on the step threads."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

from . import step_threads


async def call_function(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Await async functions on the loop; run plain functions on a step thread.

    A plain function marked inline (``@step(inline=True)``) runs on the loop
    itself: nothing else runs meanwhile, so that is for short functions only.
    One marked ``inline=False`` always runs on a step thread; an unmarked one
    runs on the loop once it has been seen to be quick (see :mod:`.step_threads`).
    """
    if inspect.iscoroutinefunction(fn) or getattr(fn, "__polos_async__", False):
        return await fn(*args, **kwargs)
    inline = getattr(fn, "__polos_inline__", None)
    if inline:
        result = fn(*args, **kwargs)
    else:
        threads = step_threads.STEP_THREADS
        record = threads.inline_record(fn) if inline is None else None
        if record is not None:
            result = threads.call_inline(record, fn, args, kwargs)
        else:
            result = await threads.call(fn, args, kwargs, adapt=inline is None)
    if inspect.isawaitable(result):
        result = await result
    return result


def function_name(fn: Callable[..., Any]) -> str:
    """The name a ``run`` step records for ``fn``, checked again on every replay."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if type(fn) is FunctionType:
        # The common case, read without a failing attribute lookup: this runs on
        # every step, replayed ones included, where it is most of the cost.
        inner = fn.__dict__.get("__polos_step_fn__", fn)
    elif type(fn) is MethodType and type(fn.__func__) is FunctionType:
        # A bound method (the agent loop's LLM step): its attributes are its
        # function's, and a missing one raised and caught cost ~1 us per replay.
        inner = fn.__func__.__dict__.get("__polos_step_fn__", fn)
    else:
        inner = getattr(fn, "__polos_step_fn__", fn)
    return getattr(inner, "__qualname__", None) or type(inner).__qualname__
