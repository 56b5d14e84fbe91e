"""What every request handler reaches: the client over the store, and the settings."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import cast

from starlette.requests import Request

from ..runtime.client import PolosClient
from ..store import Store
from .settings import ServerSettings


@dataclass
class ServerState:
    client: PolosClient
    settings: ServerSettings
    #: Submissions of one approval in this process take turns (see approvals.submit).
    approval_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    @property
    def store(self) -> Store:
        return self.client.store


def server_state(request: Request) -> ServerState:
    return cast(ServerState, request.app.state.polos)
