"""What a workflow is to the engine, and the process-wide registry of them."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence
from typing import Any, get_type_hints

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import InvalidPayloadError, WorkflowDefinitionError, WorkflowNotFoundError
from ..store.vocabulary import WorkflowType

_registry: dict[str, WorkflowDefinition] = {}


class WorkflowDefinition:
    """A workflow function plus what the engine must know to call it."""

    #: ``"workflow"``, ``"agent"`` or ``"tool"``: names the run's finish event
    #: (``workflow_finish``, ``agent_finish``) and ``ctx.workflow_type``.
    kind: str = WorkflowType.WORKFLOW

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        id: str | None = None,
        description: str | None = None,
        state_schema: type[BaseModel] | None = None,
        schedule: Any = None,
        trigger_on_event: str | None = None,
        batch_size: int = 1,
        batch_timeout_seconds: float | None = None,
        queue: Any = None,
        retention: Any = None,
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
        if state_schema is not None and not (
            isinstance(state_schema, type) and issubclass(state_schema, BaseModel)
        ):
            raise WorkflowDefinitionError(
                f"state_schema of workflow {self.id!r} must be a pydantic model class, got {state_schema!r}"
            )
        self.state_schema = state_schema
        from .schedules import parse_schedule

        self.schedule = parse_schedule(schedule, self.id)
        if trigger_on_event is not None and (
            not isinstance(trigger_on_event, str) or not trigger_on_event
        ):
            raise WorkflowDefinitionError(
                f"trigger_on_event of workflow {self.id!r} must be a topic name, got {trigger_on_event!r}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise WorkflowDefinitionError(
                f"batch_size must be a positive integer, got {batch_size!r}"
            )
        if batch_timeout_seconds is not None and batch_timeout_seconds <= 0:
            raise WorkflowDefinitionError(
                f"batch_timeout_seconds must be positive, got {batch_timeout_seconds!r}"
            )
        from .queues import resolve

        self.queue = resolve(queue, self.id)
        self.trigger_on_event = trigger_on_event
        self.batch_size = batch_size
        self.batch_timeout_seconds = batch_timeout_seconds
        from .retention import retention_seconds

        try:
            #: Seconds its finished runs are kept (``inf``: for ever; None: the default).
            self.retention = retention_seconds(retention, f"retention of workflow {self.id!r}")
        except ValueError as exc:
            raise WorkflowDefinitionError(str(exc)) from None

    def initial_state(self, value: Any) -> Any:
        """The state object a run starts from (``state_schema()`` when none was given)."""
        if self.state_schema is None:
            return None
        if value is None:
            return self.state_schema()
        if isinstance(value, self.state_schema):
            return value
        try:
            return self.state_schema.model_validate(value)
        except ValidationError as exc:
            raise InvalidPayloadError(
                f"initial_state for workflow {self.id!r} does not match {self.state_schema.__name__}: {exc}"
            ) from None

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

    def input_schema(self) -> dict[str, Any] | None:
        """The JSON schema of the input annotation, or None when there is none (or the
        type has no JSON schema): what a process without this code (``polos invoke``)
        checks a payload against before queueing it."""
        if self.input_type is None:
            return None
        try:
            schema: dict[str, Any] = TypeAdapter(self.input_type).json_schema()
        except Exception:  # a type pydantic cannot describe: nothing to check against
            return None
        return schema

    def describe(self) -> dict[str, Any] | None:
        """What the server lists about this workflow beyond its id (its input's schema);
        agents and tools say more."""
        schema = self.input_schema()
        return None if schema is None else {"input_schema": schema}

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


def queue_name_of(workflow_id: str) -> str:
    """The queue a workflow's runs go to by default; ``""`` when it is not defined
    in this process: the worker that claims the run assigns its queue then."""
    found = _registry.get(workflow_id)
    return found.queue.name if found is not None else ""


#: Per store, ids a worker is known to have served on its database. A database
#: never forgets a served workflow (its row is never deleted), so an id found
#: once is not asked for again: a client or server submitting runs of
#: workflows it does not define paid a round trip per submission for it.
_served: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


async def check_known(store: Any, workflow_ids: Sequence[str]) -> None:
    """Refuse ids that neither this process defines nor any worker ever served on
    this database: such a run would wait forever for a worker that does not exist."""
    served = _served.get(store)
    unknown = sorted(
        {w for w in workflow_ids if w not in _registry and (served is None or w not in served)}
    )
    if not unknown:
        return
    found = await store.known_workflows(unknown)
    if found:
        _served.setdefault(store, set()).update(found)
    missing = set(unknown) - found
    if missing:
        known = sorted(set(_registry) | set(await store.all_workflows()))
        raise WorkflowNotFoundError(min(missing), known)
