"""``@step``: make a plain function a durable step when called in a workflow.

Inside a workflow, each call becomes ``ctx.step.run`` with a key made of the
step's name and a per-run counter (``send_email``, ``send_email#2``, ...),
assigned in call order. Outside a workflow the function runs as usual.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..durations import parse_duration
from .retry import RetryPolicy
from .run import current_run

P = ParamSpec("P")
R = TypeVar("R")


class StepFunction(Generic[P, R]):
    def __init__(
        self,
        fn: Callable[P, R],
        *,
        key: str | None,
        max_retries: int,
        retry_delay: float | str,
        max_delay: float | str,
        inline: bool | None = None,
    ) -> None:
        self.fn = fn
        # True: a plain function run on the event loop itself instead of a step
        # thread (no hand-off, but nothing else runs until it returns). False:
        # always on a step thread. None: on a thread until seen to be quick.
        self.inline = None if inline is None else bool(inline)
        self.key: str = key or str(getattr(fn, "__name__", "step"))
        if not isinstance(self.key, str) or not self.key:
            raise TypeError(f"a step key must be a non-empty string, got {self.key!r}")
        # Checked now, at decoration, rather than at the first call in a workflow.
        policy = RetryPolicy(max_retries, parse_duration(retry_delay), parse_duration(max_delay))
        self.max_retries = policy.max_retries
        self.retry_delay = policy.base_delay
        self.max_delay = policy.max_delay
        self.__polos_step_fn__ = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        return self._call(None, args, kwargs)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """``@step`` on a method: bind ``self`` like a plain function would."""
        if instance is None:
            return self
        return _BoundStep(self, instance)

    def with_key(self, step_key: str) -> Callable[P, Any]:
        """Call this step under an explicit key instead of the derived one."""
        return lambda *args, **kwargs: self._call(step_key, args, kwargs)

    def _call(self, step_key: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        run = current_run.get()
        if run is None:
            return self.fn(*args, **kwargs)
        if step_key is None:
            count = run.decorated_step_counts.get(self.key, 0) + 1
            run.decorated_step_counts[self.key] = count
            step_key = self.key if count == 1 else f"{self.key}#{count}"
        key: str = step_key
        # The key is fixed now, at call time, so that it follows call order
        # even when several calls are gathered.
        call = functools.partial(self.fn, *args, **kwargs)
        if self.inline is not None:
            call.__polos_inline__ = self.inline  # type: ignore[attr-defined]
        return run.run_step(key, call, (), {}, self.max_retries, self.retry_delay, self.max_delay)


class _BoundStep:
    """A ``@step`` method bound to its instance."""

    def __init__(self, step_fn: StepFunction[Any, Any], instance: Any) -> None:
        self._step_fn = step_fn
        self._instance = instance
        self.__polos_step_fn__ = step_fn.fn
        functools.update_wrapper(self, step_fn.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._step_fn._call(None, (self._instance, *args), kwargs)

    def with_key(self, step_key: str) -> Callable[..., Any]:
        """Call this step under an explicit key instead of the derived one."""
        return lambda *args, **kwargs: self._step_fn._call(
            step_key, (self._instance, *args), kwargs
        )


@overload
def step(fn: Callable[P, R], /) -> StepFunction[P, R]: ...


@overload
def step(
    *,
    key: str | None = None,
    max_retries: int = 2,
    retry_delay: float | str = 1.0,
    max_delay: float | str = 10.0,
    inline: bool | None = None,
) -> Callable[[Callable[P, R]], StepFunction[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    key: str | None = None,
    max_retries: int = 2,
    retry_delay: float | str = 1.0,
    max_delay: float | str = 10.0,
    inline: bool | None = None,
) -> Any:
    """Decorate a function as a step: ``@step`` or ``@step(max_retries=5)``.

    A plain (``def``) function runs on a step thread, and on the event loop
    itself once it has returned quickly several times in a row (an inline call
    that turns out slow, or raises, sends it back to the threads for good).
    ``inline=True`` runs it on the loop from the first call: cheaper, but every
    other run waits until it returns, so only for functions that take
    microseconds (no I/O, no sleeps). ``inline=False`` keeps it on a thread
    always, for a function that is usually quick but may block, or that needs
    a thread other than the loop's.
    """

    def wrap(f: Callable[P, R]) -> StepFunction[P, R]:
        if not callable(f) or inspect.isclass(f):
            raise TypeError(f"@step needs a function, got {f!r}")
        return StepFunction(
            f,
            key=key,
            max_retries=max_retries,
            retry_delay=retry_delay,
            max_delay=max_delay,
            inline=inline,
        )

    return wrap(fn) if fn is not None else wrap
