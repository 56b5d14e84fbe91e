"""Reading requests and writing JSON responses, with every refusal a clear 4xx.

Bodies are read up to a limit (413 beyond it), parsed as JSON (400 when they
are not) and validated by a pydantic model (422 naming each bad field). Query
strings are validated the same way. Text that would reach the database is
checked for what no backend can store (NUL characters).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, StringConstraints, ValidationError
from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, bad_request, invalid

M = TypeVar("M", bound=BaseModel)


def storable_text(value: str) -> str:
    """Refuse text that a database cannot hold (PostgreSQL rejects NUL)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character (\\x00)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


#: The longest name, key or id a request may carry, in characters. PostgreSQL
#: refuses index entries above about 2.7 KB, and names are indexed (some two in
#: one entry), so even at 4 UTF-8 bytes a character they must stay well below.
MAX_NAME = 255
#: The longest topic (indexed alone).
MAX_TOPIC = 512

#: A name, key or id that can be stored on every backend.
Text = Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(storable_text)]
#: A topic name.
Topic = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TOPIC), AfterValidator(storable_text)
]


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``value`` (models, dicts, lists, datetimes...) as a JSON response."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    body = orjson.dumps(to_jsonable_python(value, fallback=str))
    return Response(body, status, headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes (checked while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"the request body is larger than {limit} bytes (the server's max_body_bytes); "
        "store large data elsewhere and send a reference",
    )


def parse_json(raw: bytes, *, empty: Any = ...) -> Any:
    """``raw`` as JSON; an empty body is ``empty`` when given, else an error."""
    if not raw.strip():
        if empty is not ...:
            return empty
        raise bad_request("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


async def body(request: Request, model: type[M], limit: int) -> M:
    """The JSON body validated as ``model``."""
    data = parse_json(await read_body(request, limit))
    return validate(model, data, "body")


def query(request: Request, model: type[M]) -> M:
    """The query string validated as ``model`` (a repeated parameter keeps its last value)."""
    return validate(model, dict(request.query_params), "query")


def validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc, where) from None


def invalid_from(exc: ValidationError, where: str) -> ApiError:
    detail = [
        {
            "loc": [where, *error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]
    listed = "; ".join(
        f"{'.'.join(str(p) for p in d['loc'][1:]) or where}: {d['msg']}" for d in detail
    )
    return invalid(f"invalid {where}: {listed}", detail)


def path_text(request: Request, name: str) -> str:
    """A path parameter, refused (400) when it holds what no database can store."""
    value: str = request.path_params[name]
    try:
        return storable_text(value)
    except ValueError as exc:
        raise bad_request(f"path parameter {name!r} {exc}") from None
