"""``polos invoke``'s payload check, against the input model a worker published.

The CLI does not import the workflow's code, so it cannot build the input
model itself; each worker records its workflows' input schemas (the JSON
schema of the input annotation) in the database, and the CLI checks the
payload against the one recorded before it queues anything. A workflow no
worker described (or with no annotation) is not checked here; its worker
still validates the payload when it runs it.

The worker validates with pydantic in its lax mode, which takes ``"5"`` for
an integer, ``"2.5"`` for a number and ``"yes"`` for a boolean; type
mismatches of that kind are let through here (the worker coerces them, and
still refuses what its model does not take), so the CLI never refuses a
payload the worker would accept.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from ..errors import InvalidPayloadError
from ..runtime.client import PolosClient


async def input_schema_of(client: PolosClient, workflow_id: str) -> dict[str, Any] | None:
    """The input schema the workers of ``workflow_id`` published, if any."""
    from ..runtime.remote import RemotePolosClient

    if isinstance(client, RemotePolosClient):  # the server checks what it is sent
        return None
    await client.start()
    for served in await client.store.served_workflows():
        if served.workflow_id != workflow_id or not served.definition:
            continue
        try:
            described = json.loads(served.definition)
        except ValueError:
            return None
        schema = described.get("input_schema") if isinstance(described, dict) else None
        return schema if isinstance(schema, dict) else None
    return None


async def check_payload(client: PolosClient, workflow_id: str, payload: Any) -> None:
    """Raise ``InvalidPayloadError`` naming the first mismatch when ``payload`` does not
    fit the workflow's published input schema."""
    schema = await input_schema_of(client, workflow_id)
    if schema is None:
        return
    validator = jsonschema.Draft202012Validator(schema)
    errors = [e for e in validator.iter_errors(payload) if not _coerced_by_pydantic(e)]
    error = jsonschema.exceptions.best_match(errors)
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the payload"
    raise InvalidPayloadError(
        f"payload for workflow {workflow_id!r} does not match its input model ({where}: "
        f"{error.message}); fix --payload"
    )


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
