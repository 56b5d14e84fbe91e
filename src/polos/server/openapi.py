"""The OpenAPI 3.1 document, made from the route declarations and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .endpoint import Endpoint
from .models import ErrorResponse

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
_REASONS = {
    200: "OK",
    202: "Accepted",
    303: "See Other",
    400: "Bad request",
    401: "Missing or wrong API key (or webhook signature)",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    503: "Database unavailable",
}


def _response_model(response: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model of a response, and whether it is a bare array of it."""
    if get_origin(response) is list:
        [item] = get_args(response)
        return item, True
    return response, False


def document(endpoints: Sequence[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for e in endpoints:
        if e.body is not None:
            wanted.append((e.body, "validation"))
        if e.query is not None:
            wanted.append((e.query, "validation"))
        model, _ = _response_model(e.response)
        if model is not None:
            wanted.append((model, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(unique, ref_template=_REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})

    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(refs[(model, mode)])

    error_body: dict[str, Any] = {
        "application/json": {"schema": ref(ErrorResponse, "serialization")}
    }
    # An HTML page answers its errors with a page too (and JSON for a malformed request).
    page_error_body = {"text/html": {"schema": {"type": "string"}}, **error_body}
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        operation: dict[str, Any] = {
            "summary": e.summary,
            "tags": [e.tag],
            "operationId": f"{e.method.lower()}_{e.handler.__name__}",
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(e.path)
        ]
        if e.query is not None:
            parameters.extend(_query_parameters(e.query, schemas, ref(e.query, "validation")))
        parameters.extend(_header(name, text) for name, text in e.headers)
        if parameters:
            operation["parameters"] = parameters
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(e.body, "validation")}},
            }
        elif e.raw_body is not None:
            operation["requestBody"] = {"required": False, "content": {e.raw_body: {"schema": {}}}}
        errors = sorted(set(e.errors) | ({401} if _keyed(e) else set()))
        body = page_error_body if e.media_type == "text/html" else error_body
        operation["responses"] = {
            str(e.status): _success(e, ref),
            **{
                str(code): {"description": _REASONS.get(code, "Error"), "content": body}
                for code in errors
            },
        }
        if _keyed(e):
            operation["security"] = [{"bearer": []}]
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (polos keys create); needed once any key "
                    "exists in the server's database",
                }
            },
        },
    }


def _keyed(e: Endpoint) -> bool:
    """Whether the route can answer 401 for a missing key (see ``auth.py``)."""
    return e.path != "/health" and not e.path.startswith(("/approve/", "/slack/"))


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


def _success(e: Endpoint, ref: Any) -> dict[str, Any]:
    description = _REASONS.get(e.status, "OK")
    if e.status == 303:
        return {"description": description, "headers": {"Location": {"schema": {"type": "string"}}}}
    model, is_list = _response_model(e.response)
    if model is None:
        return {
            "description": description,
            "content": {e.media_type: {"schema": {"type": "string"}}},
        }
    schema = ref(model, "serialization")
    if is_list:
        schema = {"type": "array", "items": schema}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_parameters(
    model: type[BaseModel], schemas: dict[str, Any], model_ref: dict[str, Any]
) -> list[dict[str, Any]]:
    name = model_ref["$ref"].rsplit("/", 1)[1]
    spec = schemas.get(name, {})
    required = set(spec.get("required", []))
    out = []
    for field, schema in spec.get("properties", {}).items():
        parameter = {"name": field, "in": "query", "required": field in required, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema["description"]
        out.append(parameter)
    return out
