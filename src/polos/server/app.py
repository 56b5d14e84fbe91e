"""The Starlette application: routes, errors as JSON, the OpenAPI document, the store's lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..distribution import package_version
from ..errors import ConfigurationError, PolosError
from ..runtime.client import PolosClient
from .auth import KeyCheck, check_can_serve
from .dashboard import dashboard_routes
from .errors import ApiError, from_polos
from .http import json_response
from .openapi import document
from .protocol.duties import ServerDuties
from .routes import all_endpoints
from .settings import ServerSettings
from .state import ServerState

log = logging.getLogger("polos.server")
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def create_app(
    settings: ServerSettings | None = None, *, client: PolosClient | None = None
) -> Starlette:
    """The HTTP API over the database of ``settings`` (or over ``client``'s store).

    The store opens when the app starts and closes when it stops (a ``client``
    passed in is left open: its owner closes it).
    """
    settings = settings or ServerSettings()
    owned = client is None
    polos_client = client or PolosClient(
        None, None, settings.project_id, database_url=settings.database_url
    )
    endpoints = all_endpoints()
    spec = document(endpoints, title="Polos for Python", version=_version())

    async def openapi(_: Request) -> Response:
        return json_response(spec)

    routes: list[BaseRoute] = [
        Route(e.route_path or e.path, e.handler, methods=[e.method]) for e in endpoints
    ]
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    # The dashboard's pages are for people: routes of their own, not in the document.
    routes.extend(dashboard_routes())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await polos_client.start()
        try:
            await check_can_serve(polos_client.store, settings)
        except ConfigurationError as exc:
            app.state.startup_error = str(exc)
            if owned:
                await polos_client.close()
            raise
        log.info("serving %s", polos_client.store.description)
        # Schedules, timers and event triggers of SDK workers' workflows fire here.
        duties = ServerDuties(polos_client.store)
        duties.start()
        # Runs of Polos SDK workers' workflows are pushed to them (protocol/dispatch.py).
        await app.state.polos.dispatcher.start()
        try:
            yield
        finally:
            await app.state.polos.dispatcher.stop()
            await duties.stop()
            await app.state.polos.close_streams()
            if owned:
                await polos_client.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(KeyCheck, store=lambda: polos_client.store, settings=settings)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            PolosError: _polos_error,
            Exception: _unexpected,
        },
    )
    app.state.polos = ServerState(polos_client, settings)
    return app


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body(), exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail
    if exc.status_code == 404:
        message = f"no route {request.url.path}; see /openapi.json for the routes"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    return json_response(
        {"error": message, "error_type": code}, exc.status_code, dict(exc.headers or {})
    )


async def _polos_error(request: Request, exc: Exception) -> Response:
    refusal = from_polos(exc)
    if refusal is not None:
        return json_response(refusal.body(), refusal.status)
    log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return _internal(exc)


async def _unexpected(_: Request, exc: Exception) -> Response:
    # Starlette's outermost middleware sends this, then re-raises: uvicorn logs it.
    return _internal(exc)


def _internal(exc: Exception) -> Response:
    return json_response(
        {"error": f"the server failed: {type(exc).__name__}: {exc}", "error_type": "INTERNAL"},
        500,
    )


def _version() -> str:
    return package_version()


def endpoint_paths() -> list[tuple[str, str]]:
    """(method, path) of every route, for docs and tests."""
    return [(e.method, e.path) for e in all_endpoints()]


__all__ = ["create_app", "endpoint_paths"]
