"""What a workflow is to the engine, and the process-wide registry of them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import TypeAdapter, ValidationError

from ..errors import InvalidPayloadError, WorkflowDefinitionError

_registry: dict[str, WorkflowDefinition] = {}


class WorkflowDefinition:
    """A workflow function plus what the engine must know to call it."""

    def __init__(
        self, fn: Callable[..., Any], *, id: str | None = None, description: str | None = None
    ):
        if not callable(fn):
            raise WorkflowDefinitionError(f"@workflow needs a function, got {fn!r}")
        self.fn = fn
        self.id: str = id or fn.__name__
        if not self.id or not isinstance(self.id, str):
            raise WorkflowDefinitionError(
                f"workflow id must be a non-empty string, got {self.id!r}"
            )
        self.description = description or inspect.getdoc(fn) or ""
        self.is_async = inspect.iscoroutinefunction(fn)
        params = list(inspect.signature(fn).parameters.values())
        if not params or len(params) > 2:
            raise WorkflowDefinitionError(
                f"workflow {self.id!r} must take (ctx) or (ctx, input), "
                f"but {fn.__qualname__} takes {len(params)} parameter(s)"
            )
        self.takes_payload = len(params) == 2
        self.input_type: Any = None
        if self.takes_payload:
            try:
                hints = get_type_hints(fn)
            except Exception:  # unresolvable forward references: accept anything
                hints = {}
            self.input_type = hints.get(params[1].name)
            if self.input_type is Any:
                self.input_type = None
        self._adapter: TypeAdapter[Any] | None = None

    def coerce_payload(self, payload: Any) -> Any:
        """Validate ``payload`` against the input annotation and build it."""
        if self.input_type is None:
            return payload
        if isinstance(self.input_type, type) and isinstance(payload, self.input_type):
            return payload
        if self._adapter is None:
            self._adapter = TypeAdapter(self.input_type)
        try:
            return self._adapter.validate_python(payload)
        except ValidationError as exc:
            raise InvalidPayloadError(
                f"payload for workflow {self.id!r} does not match "
                f"{getattr(self.input_type, '__name__', self.input_type)}: {exc}"
            ) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r}>"


def register(definition: WorkflowDefinition) -> None:
    existing = _registry.get(definition.id)
    if existing is not None and _origin(existing.fn) != _origin(definition.fn):
        raise WorkflowDefinitionError(
            f"workflow id {definition.id!r} is already used by {_origin(existing.fn)}; "
            f"give {_origin(definition.fn)} another id with @workflow(id=...)"
        )
    _registry[definition.id] = definition


def lookup(workflow_id: str) -> WorkflowDefinition | None:
    return _registry.get(workflow_id)


def all_definitions() -> list[WorkflowDefinition]:
    return list(_registry.values())


def _origin(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
