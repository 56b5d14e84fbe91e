"""What every request handler reaches: the client over the store, and the settings."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from starlette.requests import Request

from ..runtime.client import PolosClient
from ..store import Store
from .fanout import Fanout
from .settings import ServerSettings

if TYPE_CHECKING:
    from .dashboard.live import LiveFeed
    from .protocol.dispatch import Dispatcher


@dataclass
class ServerState:
    client: PolosClient
    settings: ServerSettings
    #: Submissions of one approval in this process take turns (see approvals.submit).
    approval_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    _fanout: Fanout | None = None
    _live: LiveFeed | None = None
    _dispatcher: Dispatcher | None = None

    @property
    def store(self) -> Store:
        return self.client.store

    @property
    def fanout(self) -> Fanout:
        """The shared readers of followed topics (made once the store is open)."""
        if self._fanout is None:
            self._fanout = Fanout(self.store)
        return self._fanout

    @property
    def live(self) -> LiveFeed:
        """The dashboard's shared watchers of what open pages show."""
        if self._live is None:
            from .dashboard.live import LiveFeed  # the dashboard is optional (jinja2)

            self._live = LiveFeed(self.store)
        return self._live

    @property
    def dispatcher(self) -> Dispatcher:
        """What pushes runs to Polos SDK workers (started and stopped with the app)."""
        if self._dispatcher is None:
            from .protocol.dispatch import Dispatcher

            self._dispatcher = Dispatcher(self)
        return self._dispatcher

    async def close_streams(self) -> None:
        if self._fanout is not None:
            await self._fanout.close()
        if self._live is not None:
            await self._live.close()


def server_state(request: Request) -> ServerState:
    return cast(ServerState, request.app.state.polos)
