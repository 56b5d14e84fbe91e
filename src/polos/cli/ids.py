"""Execution ids as people type them: whole, or any unique prefix.

``polos list`` prints whole ids; a person (or a script) may pass only their
start, as with git commits. A prefix that fits one run means that run; one
that fits several is an error listing them, so nothing is done to the wrong
run. Through a server (``--api-url``) only whole ids are taken: the HTTP API
reads one run by its id.
"""

from __future__ import annotations

from ..errors import ExecutionNotFoundError, PolosError
from ..runtime.client import PolosClient

#: How many candidates an ambiguous prefix lists.
SHOWN = 10


class AmbiguousIdError(PolosError):
    """A typed id prefix fits more than one execution."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        self.prefix, self.candidates = prefix, candidates
        more = " (and more)" if len(candidates) > SHOWN else ""
        listed = "\n  ".join(candidates[:SHOWN])
        super().__init__(
            f"{prefix!r} is the start of more than one execution id{more}; type more of it:\n"
            f"  {listed}"
        )


async def resolve_execution_id(client: PolosClient, typed: str) -> str:
    """The whole id ``typed`` names: itself when it is an execution's id, else the one
    execution whose id starts with it. Raises ``ExecutionNotFoundError`` when none fits
    and ``AmbiguousIdError`` when several do."""
    from ..runtime.remote import RemotePolosClient

    if isinstance(client, RemotePolosClient) or not typed:
        return typed
    store = client.store
    await client.start()
    if await store.get_execution(typed) is not None:
        return typed
    found = await store.find_execution_ids(typed, limit=SHOWN + 1)
    if not found:
        raise ExecutionNotFoundError(typed)
    if len(found) > 1:
        raise AmbiguousIdError(typed, found)
    return found[0]
