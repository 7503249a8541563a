"""What can go wrong talking to a provider, grouped by what the caller can do about it.

- ``AuthError``: the key was rejected (401/403). Stop retrying; mark the connection "reconnect".
  ``MissingResource`` is one: what the connection names (a BigQuery dataset) does not exist.
- ``RateLimited``: 429; retry later, after ``retry_after`` seconds when the provider says.
- ``TransientError``: 5xx, timeouts, connection errors; retry with backoff.
- ``MalformedResponse``: the payload does not have the documented shape; fail the sync loudly and
  write nothing (a half-parsed window would corrupt totals).
- ``BadRequest``: any other 4xx; a bug or an unsupported account state; do not retry.

Messages never contain the credential: ``redact`` scrubs it wherever an error text is built from
provider output.
"""

from __future__ import annotations

from collections.abc import Iterable


class ProviderError(Exception):
    """A provider call failed. ``status`` is the HTTP status (``None`` for network errors)."""

    retryable = False

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [f"{self.provider}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        text = " ".join(parts) + f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, status={self.status!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class AuthError(ProviderError):
    """The credential was rejected or lacks permission: the connection must be reconnected."""


class MissingResource(AuthError):
    """What the connection points at (a dataset, a table) does not exist (404): like a rejected
    key, only the user can fix it, so the connection stops until its settings are replaced."""


class RateLimited(ProviderError):
    retryable = True

    def __init__(self, provider: str, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(provider, message, **kwargs)
        self.retry_after = retry_after


class TransientError(ProviderError):
    retryable = True


class MalformedResponse(ProviderError):
    """The payload does not match the documented shape."""


class BadRequest(ProviderError):
    """A 4xx other than auth and rate limiting."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret (4+ characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
