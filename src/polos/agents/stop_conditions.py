"""Stop conditions: when an agent should stop calling its model.

``@stop_condition`` on ``fn(ctx: StopConditionContext, config: SomeModel) -> bool``
(sync or async) makes a factory: ``fn(SomeModel(...))`` (or a dict, or the
model's fields as keywords) returns the configured condition to put in
``Agent(stop_conditions=[...])``. A function without a config parameter is
a condition by itself (``fn`` or ``fn()``). Conditions are checked after
each step that ran tools, as one durable step; the first that returns true
ends the run (``result.stop_reason == "stop_condition:<name>"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from pydantic import BaseModel, Field

from ..errors import WorkflowDefinitionError
from .results import Step, ToolCall

__all__ = [
    "ExecutedToolConfig",
    "HasTextConfig",
    "MaxStepsConfig",
    "MaxTokensConfig",
    "StopCondition",
    "StopConditionContext",
    "StopContext",
    "executed_tool",
    "has_text",
    "max_steps",
    "max_tokens",
    "stop_condition",
]


class StopConditionContext(BaseModel):
    """What a stop condition sees: the agent's steps so far."""

    steps: list[Step] = Field(default_factory=list)
    agent_id: str | None = None
    agent_run_id: str | None = None

    @property
    def total_tokens(self) -> int:
        return sum(s.usage.total_tokens for s in self.steps if s.usage is not None)

    @property
    def text(self) -> str:
        """The latest step's text."""
        return self.steps[-1].text if self.steps else ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Every tool call so far, in order."""
        return [call for s in self.steps for call in s.tool_calls]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any) -> StopConditionContext:
        if isinstance(data, StopConditionContext):
            return data
        if isinstance(data, dict):
            return cls.model_validate(data)
        raise TypeError(f"cannot make a StopConditionContext from {type(data).__name__}")


#: Earlier name of :class:`StopConditionContext`.
StopContext = StopConditionContext


class StopCondition:
    """A configured stop condition: ``condition(context) -> bool`` (or an awaitable of it)."""

    def __init__(self, fn: Callable[..., Any], config: BaseModel | None = None) -> None:
        self.fn, self.config = fn, config
        self.name: str = getattr(fn, "__name__", "stop_condition")
        # The attributes Polos sets on its configured conditions.
        self.__stop_condition_fn__ = fn
        self.__stop_condition_name__ = self.name
        self.__stop_condition_config__ = config
        self.__name__ = self.name
        self.__polos_async__ = inspect.iscoroutinefunction(fn)

    def __call__(self, context: StopConditionContext) -> bool | Awaitable[bool]:
        if self.config is None:
            result: bool | Awaitable[bool] = self.fn(context)
        else:
            result = self.fn(context, self.config)
        return result

    def __repr__(self) -> str:
        shown = f"({self.config!r})" if self.config is not None else ""
        return f"<stop condition {self.name}{shown}>"


class StopConditionFactory:
    """What ``@stop_condition`` returns: call it with a config to get a :class:`StopCondition`."""

    def __init__(self, fn: Callable[..., Any], config_class: type[BaseModel] | None) -> None:
        self.fn, self.config_class = fn, config_class
        self.__name__ = getattr(fn, "__name__", "stop_condition")
        self.__doc__ = fn.__doc__
        self.__stop_condition_fn__ = fn
        self.__stop_condition_name__ = self.__name__
        self.__stop_condition_has_config__ = config_class is not None
        self.__stop_condition_config_class__ = config_class
        self.__wrapped__ = fn  # inspect.signature shows the decorated function's

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], StopConditionContext):
            # A condition without config, called by whoever evaluates it.
            return self.configured()(args[0])
        if self.config_class is None:
            if args or kwargs:
                raise TypeError(f"stop condition {self.__name__!r} takes no configuration")
            return StopCondition(self.fn)
        return StopCondition(self.fn, self._config(args, kwargs))

    def configured(self) -> StopCondition:
        """The condition with its default configuration (for a factory given uncalled)."""
        if self.config_class is None:
            return StopCondition(self.fn)
        try:
            return StopCondition(self.fn, self.config_class())
        except Exception:
            raise WorkflowDefinitionError(
                f"stop condition {self.__name__!r} needs its configuration: use "
                f"{self.__name__}({self.config_class.__name__}(...))"
            ) from None

    def _config(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> BaseModel:
        assert self.config_class is not None
        if len(args) == 1 and not kwargs:
            (value,) = args
            if isinstance(value, self.config_class):
                return value
            if isinstance(value, dict):
                return self.config_class.model_validate(value)
        if args:
            raise TypeError(
                f"stop condition {self.__name__!r} takes a {self.config_class.__name__}, a dict "
                "or its fields as keywords"
            )
        return self.config_class(**kwargs)

    def __repr__(self) -> str:
        return f"<stop condition factory {self.__name__}>"


def stop_condition(fn: Callable[..., Any]) -> StopConditionFactory:
    """Declare a stop condition ``fn(ctx: StopConditionContext[, config]) -> bool``."""
    params = list(inspect.signature(fn).parameters.values())
    if not params or len(params) > 2:
        raise WorkflowDefinitionError(
            f"stop condition {getattr(fn, '__name__', fn)!r} must take "
            "(ctx: StopConditionContext) or (ctx: StopConditionContext, config: SomeModel)"
        )
    config_class: type[BaseModel] | None = None
    if len(params) == 2:
        try:
            hint = get_type_hints(fn).get(params[1].name)
        except Exception:
            hint = None
        if not (isinstance(hint, type) and issubclass(hint, BaseModel)):
            raise WorkflowDefinitionError(
                f"stop condition {fn.__name__!r}: annotate its second parameter with a "
                f"pydantic model class (the configuration), got {hint!r}"
            )
        config_class = hint
    return StopConditionFactory(fn, config_class)


def as_stop_condition(value: Any, owner: str) -> Callable[..., Any]:
    """An entry of ``Agent(stop_conditions=[...])``, checked when the agent is defined."""
    if isinstance(value, StopConditionFactory):
        return value.configured()
    if not callable(value):
        raise WorkflowDefinitionError(
            f"{owner}: {value!r} is not a stop condition (use the @stop_condition decorator)"
        )
    condition: Callable[..., Any] = value
    return condition


def condition_name(condition: Any) -> str:
    name = getattr(condition, "__stop_condition_name__", None) or getattr(
        condition, "__name__", None
    )
    return str(name) if name else "unknown"


# --- the built-in conditions --------------------------------------------------------------


class MaxStepsConfig(BaseModel):
    count: int = 20


class MaxTokensConfig(BaseModel):
    limit: int


class ExecutedToolConfig(BaseModel):
    tool_names: list[str]


class HasTextConfig(BaseModel):
    texts: list[str]


@stop_condition
def max_steps(ctx: StopConditionContext, config: MaxStepsConfig) -> bool:
    """Stop once the agent made ``count`` LLM calls."""
    return len(ctx.steps) >= config.count


@stop_condition
async def max_tokens(ctx: StopConditionContext, config: MaxTokensConfig) -> bool:
    """Stop once the run used ``limit`` tokens or more."""
    return ctx.total_tokens >= config.limit


@stop_condition
def executed_tool(ctx: StopConditionContext, config: ExecutedToolConfig) -> bool:
    """Stop once every one of ``tool_names`` has been called."""
    wanted = set(config.tool_names)
    return bool(wanted) and wanted <= {call.function.name for call in ctx.tool_calls}


@stop_condition
def has_text(ctx: StopConditionContext, config: HasTextConfig) -> bool:
    """Stop once every one of ``texts`` appears in the text of the steps so far."""
    said = " ".join(s.text for s in ctx.steps if s.text)
    return bool(config.texts) and all(t in said for t in config.texts)
