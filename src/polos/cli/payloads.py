"""``polos invoke``'s payload check, against the input model a worker published.

The CLI does not import the workflow's code, so it checks the payload against
the input schema the workflow's workers recorded in the database
(:mod:`polos.engine.published_inputs`) before it queues anything. Through
``--api-url`` the server makes the same check when it is sent the run (a
refusal comes back as a 422 naming the field), so the CLI does not read the
database there.
"""

from __future__ import annotations

from typing import Any

from ..engine.published_inputs import first_mismatch
from ..runtime.client import PolosClient


async def check_payload(client: PolosClient, workflow_id: str, payload: Any) -> None:
    """Raise ``InvalidPayloadError`` naming the first mismatch when ``payload`` does not
    fit the workflow's published input schema."""
    from ..runtime.remote import RemotePolosClient

    if isinstance(client, RemotePolosClient):  # the server checks what it is sent
        return
    await client.start()
    found = await first_mismatch(client.store, [(0, workflow_id, payload)])
    if found is not None:
        raise found.error("fix --payload")
