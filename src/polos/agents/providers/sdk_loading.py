"""Importing a provider's SDK in a thread, not on the worker's event loop.

The SDKs are imported late, on first use (``import polos`` stays light), and
importing one is slow: about 1.5 s of CPU for ``openai``, 3 s for
``anthropic``, more for ``litellm``, and over 10 s on a loaded machine. Done on
the event loop, the first model call of a worker stalls everything else the
worker runs, its lease renewals included: a stall longer than the lease lets the
run be claimed again, and a model call already made is paid a second time. So an
agent run first imports its provider's SDK in a thread, while the loop keeps
serving; later runs find it imported and go straight on.
"""

from __future__ import annotations

import asyncio
import importlib
import logging

from .litellm_provider import import_litellm
from .registry import sdk_of

log = logging.getLogger("polos.agents")

#: SDKs imported (or found missing) in this process.
_done: set[str] = set()


async def import_provider_sdk(provider: str) -> None:
    """Import the SDK ``provider``'s adapter uses, off the event loop, once per process."""
    sdk = sdk_of(provider)
    if sdk is None or sdk in _done:
        return
    await asyncio.to_thread(_import, sdk)
    _done.add(sdk)


def _import(sdk: str) -> None:
    try:
        if sdk == "litellm":
            import_litellm()  # keeps LiteLLM from fetching its price list
        else:
            importlib.import_module(sdk)
    except Exception as exc:
        # Not ours to report: building the provider names a missing SDK clearly,
        # and a broken one fails the same way when the adapter imports it.
        log.debug("importing %s ahead of use failed: %s", sdk, exc)
