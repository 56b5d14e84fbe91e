"""HTTP errors: one JSON shape for every refusal, and Polos errors mapped to statuses.

Every error body is ``{"error": "<what went wrong and what to do>",
"error_type": "<CODE>"}`` (Polos's ``ErrorResponse``); validation errors add
``"detail"``, one entry per field in error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..errors import (
    ConfigurationError,
    ExecutionNotFoundError,
    InvalidPayloadError,
    PayloadTooLargeError,
    PolosError,
    SerializationError,
    StoreError,
    StoreUnavailableError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
)


class ApiError(Exception):
    """A request refused with ``status``; ``message`` says what to do instead."""

    def __init__(
        self, status: int, error_type: str, message: str, detail: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "error_type": self.error_type}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


def not_found(what: str, message: str) -> ApiError:
    return ApiError(404, f"{what.upper()}_NOT_FOUND", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "CONFLICT", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def invalid(message: str, detail: list[Any] | None = None) -> ApiError:
    return ApiError(422, "VALIDATION_ERROR", message, detail)


def from_polos(exc: Exception) -> ApiError | None:
    """The HTTP refusal for an error raised by the client layer, or None when it is
    not the caller's fault (the server logs those and answers 500)."""
    if isinstance(exc, ExecutionNotFoundError):
        return not_found("execution", str(exc))
    if isinstance(exc, WorkflowNotFoundError):
        return not_found("workflow", str(exc))
    if isinstance(exc, PayloadTooLargeError):
        return ApiError(413, "PAYLOAD_TOO_LARGE", str(exc))
    if isinstance(
        exc,
        InvalidPayloadError | SerializationError | WorkflowDefinitionError | ConfigurationError,
    ):
        return invalid(str(exc))
    if isinstance(exc, StoreUnavailableError):
        return ApiError(503, "UNAVAILABLE", f"the database is unreachable: {exc}")
    if isinstance(exc, StoreError):
        return None
    if isinstance(exc, PolosError):
        return conflict(str(exc))
    return None


@contextlib.contextmanager
def client_errors(*, arguments: bool = False) -> Iterator[None]:
    """Raise the client layer's refusals as :class:`ApiError`; with ``arguments``,
    also ``TypeError`` / ``ValueError`` (the client's own checks of what it was given)."""
    try:
        yield
    except ApiError:
        raise
    except Exception as exc:
        refusal = from_polos(exc)
        if refusal is None and arguments and isinstance(exc, TypeError | ValueError):
            refusal = invalid(str(exc))
        if refusal is None:
            raise
        raise refusal from None
