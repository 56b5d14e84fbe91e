"""``polos server``: the HTTP API, live event streams, approval pages and webhooks.

A Starlette app over the same store the workers use (SQLite file or
PostgreSQL): it starts, reads, cancels and resumes runs through
:class:`~polos.runtime.client.PolosClient`, follows topics and run trees
through :mod:`polos.events`, and manages schedules through
:mod:`polos.schedules`. It runs no workflow code itself: workers do.

Needs the ``server`` extra (``pip install 'polos-durable[server]'``: starlette, uvicorn).
"""

from __future__ import annotations

from .app import create_app
from .serve import RunningServer, bind
from .settings import ServerSettings

__all__ = ["RunningServer", "ServerSettings", "bind", "create_app"]
