"""Errors of LLM providers: bad configuration, refused requests, outages.

``ProviderRejectedError`` is also a ``FatalError`` so the step running the
call fails at once: sending the same bad request again cannot succeed.
``ProviderUnavailableError`` is left to the step's own retry policy once
the in-process retries are spent; its ``retry_after`` holds the server's
last Retry-After, if any.
"""

from __future__ import annotations

from ...errors import FatalError, PolosError


class ProviderConfigError(PolosError):
    """A provider cannot be set up: unknown name, missing API key, bad model."""


class ProviderError(PolosError):
    """An LLM call failed."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status_code: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.retry_after = retry_after
        self.attempts = attempts
        self.detail = message
        """The provider's own message, before this class adds context."""

    @property
    def retryable(self) -> bool:
        return isinstance(self, ProviderUnavailableError)

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        return (
            f"{self.provider} call to model {self.model!r} failed ({self._status}): {self.detail}"
        )

    @property
    def _status(self) -> str:
        return f"HTTP {self.status_code}" if self.status_code is not None else "no HTTP status"


class ProviderRejectedError(ProviderError, FatalError):
    """The provider refused the request (a 4xx other than 408, 409 or 429).

    Never retried: the request itself must change.
    """

    def describe(self) -> str:
        hint = _HINTS.get(self.status_code or 0, "check the messages, tools and parameters sent")
        return (
            f"{self.provider} rejected the request to model {self.model!r} "
            f"({self._status}): {self.detail} ({hint}; not retried)"
        )


class ProviderUnavailableError(ProviderError):
    """A transient failure (rate limit, 5xx, timeout, no connection).

    Raised once the in-process retries are exhausted, or at once when the
    server asks to wait longer than the retry policy allows.
    """

    def describe(self) -> str:
        wait = f"; the server asked to wait {self.retry_after:g}s" if self.retry_after else ""
        return (
            f"{self.provider} is unavailable for model {self.model!r} ({self._status}): "
            f"{self.detail}; gave up after {self.attempts} attempt(s){wait}"
        )


_HINTS = {
    401: "check the API key: OPENAI_API_KEY, ANTHROPIC_API_KEY or the provider's own variable",
    403: "the API key is not allowed to use this model or endpoint",
    404: "check the model name and the base URL",
    413: "the request is too large: shorten the conversation",
}
