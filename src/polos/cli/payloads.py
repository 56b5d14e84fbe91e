"""``polos invoke``'s payload check, against the input model a worker published.

The CLI does not import the workflow's code, so it cannot build the input
model itself; each worker records its workflows' input schemas (the JSON
schema of the input annotation) in the database, and the CLI checks the
payload against the one recorded before it queues anything. A workflow no
worker described (or with no annotation) is not checked here; its worker
still validates the payload when it runs it.
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
    error = jsonschema.exceptions.best_match(validator.iter_errors(payload))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the payload"
    raise InvalidPayloadError(
        f"payload for workflow {workflow_id!r} does not match its input model ({where}: "
        f"{error.message}); fix --payload"
    )
