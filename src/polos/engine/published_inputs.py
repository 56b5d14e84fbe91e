"""A payload checked against the input schema a workflow's workers published.

A process that does not import a workflow's code (``polos invoke``, the
server) cannot build its input model, so it cannot validate a payload the
way the worker will. Each of our workers records its workflows' input
schemas (the JSON schema of the input annotation) in the database; a payload
is checked against the one recorded before anything is queued, so a mistake
is refused at once, naming the field, instead of failing the run later. A
workflow no worker described (or with no annotation) is not checked here;
its worker still validates the payload when it runs it.

The worker validates with pydantic in its lax mode, which takes ``"5"`` for
an integer, ``"2.5"`` for a number and ``"yes"`` for a boolean; type
mismatches of that kind are let through here (the worker coerces them, and
still refuses what its model does not take), so no payload the worker would
accept is ever refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

from ..errors import InvalidPayloadError
from ..store import Store


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Where a payload does not fit its workflow's input schema, and how."""

    workflow_id: str
    #: Which of the payloads checked together (0 for a single one).
    index: int
    #: The path to the value in error (``["items", 0, "sku"]``); empty for the payload itself.
    path: tuple[str | int, ...]
    message: str

    @property
    def where(self) -> str:
        return "/".join(str(p) for p in self.path) or "the payload"

    def error(self, fix: str) -> InvalidPayloadError:
        """The refusal, ending with ``fix`` (what the caller should do)."""
        return InvalidPayloadError(
            f"payload for workflow {self.workflow_id!r} does not match its input model "
            f"({self.where}: {self.message}); {fix}"
        )


async def published_schemas(store: Store, workflow_ids: Sequence[str]) -> dict[str, str]:
    """The input schema (as JSON text) each of ``workflow_ids`` has, when a worker
    published one."""
    wanted = set(workflow_ids)
    found: dict[str, str] = {}
    for served in await store.served_workflows():
        if served.workflow_id in wanted and served.definition:
            schema = _input_schema(served.definition)
            if schema is not None:
                found[served.workflow_id] = schema
    return found


@lru_cache(maxsize=256)
def _input_schema(definition: str) -> str | None:
    """The input schema inside a published definition, as canonical JSON text.

    Cached by the definition's text: every run request reads the published
    definitions again (a worker may have published a new one since), but one
    seen before is not parsed again."""
    try:
        described = json.loads(definition)
    except ValueError:
        return None
    schema = described.get("input_schema") if isinstance(described, dict) else None
    return json.dumps(schema, sort_keys=True) if isinstance(schema, dict) else None


def mismatch(workflow_id: str, schema: str, payload: Any, index: int = 0) -> Mismatch | None:
    """The first way ``payload`` does not fit ``schema`` (JSON text), or None."""
    validator = _validator(schema)
    errors = [e for e in validator.iter_errors(payload) if not _coerced_by_pydantic(e)]
    error = jsonschema.exceptions.best_match(errors)
    if error is None:
        return None
    return Mismatch(workflow_id, index, tuple(error.absolute_path), error.message)


async def first_mismatch(store: Store, items: Sequence[tuple[int, str, Any]]) -> Mismatch | None:
    """The first of ``(index, workflow_id, payload)`` that does not fit its workflow's
    published input schema (one read of the store for all), or None."""
    if not items:
        return None
    schemas = await published_schemas(store, [workflow_id for _, workflow_id, _ in items])
    for index, workflow_id, payload in items:
        schema = schemas.get(workflow_id)
        found = None if schema is None else mismatch(workflow_id, schema, payload, index)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=256)
def _validator(schema: str) -> jsonschema.Draft202012Validator:
    # Keyed by the schema's text: a worker that publishes a changed model gets a new one.
    return jsonschema.Draft202012Validator(json.loads(schema))


_TRUTHY = {"1", "on", "t", "true", "y", "yes"}
_FALSY = {"0", "off", "f", "false", "n", "no"}


def _coerced_by_pydantic(error: jsonschema.exceptions.ValidationError) -> bool:
    """Whether ``error`` is a type mismatch pydantic's lax mode would coerce away."""
    if error.validator != "type":
        return False
    wanted = error.validator_value
    kinds = set(wanted) if isinstance(wanted, list) else {wanted}
    value = error.instance
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, int | float):
        number = float(value)
    if "integer" in kinds and number is not None and number.is_integer():
        return True  # "5", 5.0, True
    if "number" in kinds and number is not None:
        return True  # "2.5"
    if "boolean" in kinds:
        if isinstance(value, int) and value in (0, 1):
            return True
        if isinstance(value, str) and value.strip().lower() in _TRUTHY | _FALSY:
            return True
    return False
