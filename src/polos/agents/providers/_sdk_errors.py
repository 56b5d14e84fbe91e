"""Translating SDK exceptions into provider errors.

The ``openai``, ``anthropic`` and ``litellm`` exceptions share one shape
(litellm's subclass openai's): a ``status_code``, an httpx ``response`` with
headers, a ``body`` holding the provider's message. Reading that shape by
attribute lets one function serve all three without importing any of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from .errors import ProviderError, ProviderRejectedError, ProviderUnavailableError
from .retry import parse_retry_after

# Statuses worth retrying: timeout, conflict (lock contention at OpenAI), rate
# limit, and every server error (Anthropic's 529 "overloaded" included).
_TRANSIENT_4XX = frozenset({408, 409, 429})


def translate(
    exc: BaseException,
    *,
    provider: str,
    model: str,
    connection_errors: tuple[type[BaseException], ...],
) -> ProviderError | None:
    """The provider error for an SDK exception, or ``None`` if it is not one."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        kind = (
            ProviderUnavailableError
            if status >= 500 or status in _TRANSIENT_4XX
            else ProviderRejectedError
        )
        return kind(
            _message_of(exc),
            provider=provider,
            model=model,
            status_code=status,
            retry_after=_retry_after(exc),
        )
    if isinstance(exc, connection_errors):
        return ProviderUnavailableError(
            f"{type(exc).__name__}: {exc}", provider=provider, model=model
        )
    return None


@contextmanager
def translated(
    *, provider: str, model: str, connection_errors: tuple[type[BaseException], ...]
) -> Iterator[None]:
    """Re-raise SDK exceptions raised inside the block as provider errors."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        error = translate(exc, provider=provider, model=model, connection_errors=connection_errors)
        if error is None:
            raise
        raise error from exc


def _retry_after(exc: BaseException) -> float | None:
    # LiteLLM rebuilds the response of its exceptions without the server's
    # headers and keeps those apart, in `litellm_response_headers`.
    response = getattr(exc, "response", None)
    for headers in (
        getattr(response, "headers", None),
        getattr(exc, "litellm_response_headers", None),
    ):
        if isinstance(headers, Mapping):
            seconds = parse_retry_after(headers)
            if seconds is not None:
                return seconds
    return None


def _message_of(exc: BaseException) -> str:
    """The provider's own error message, without the SDK's decorations."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc)
