"""One declaration per route: the handler and what the OpenAPI document says of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    #: The path as OpenAPI writes it (``/api/v1/executions/{execution_id}``).
    path: str
    handler: Handler
    summary: str
    tag: str
    #: The JSON body, validated by this model.
    body: type[BaseModel] | None = None
    #: Query parameters, validated by this model.
    query: type[BaseModel] | None = None
    #: The success response: a model, or ``list[Model]`` for a bare array.
    response: Any = None
    status: int = 200
    #: Error statuses this route answers with (each with the ErrorResponse body).
    errors: tuple[int, ...] = ()
    #: Starlette's path when it differs (``{step_key:path}`` takes slashes).
    route_path: str | None = None
    #: The success body's media type when not JSON (an HTML page, an event stream).
    media_type: str = "application/json"
    #: Headers the route reads, documented as header parameters.
    headers: tuple[tuple[str, str], ...] = ()
    #: A body that is not a pydantic model (a webhook's any JSON, a form post).
    raw_body: str | None = None
