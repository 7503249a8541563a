"""The domain's error family. Services raise these; chalicelib/api/http.py maps them to HTTP statuses
(``_STATUS``, the one mapping; ``domain.plans.PlanLimitExceeded`` is one of the family too)."""

from __future__ import annotations


class AppError(Exception):
    """Base of every expected failure. ``code`` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class ValidationFailed(AppError):
    code = "validation_error"


class Unauthenticated(AppError):
    code = "unauthenticated"


class Forbidden(AppError):
    code = "forbidden"


class NotFound(AppError):
    code = "not_found"


class Conflict(AppError):
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class LastOwner(Conflict):
    code = "last_owner"


class TooManyAttempts(AppError):
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class PayloadTooLarge(AppError):
    code = "payload_too_large"


class UpstreamRejected(AppError):
    """A provider rejected what we sent on the user's behalf (e.g. an invalid API key)."""

    code = "provider_rejected"


class ServiceUnavailable(AppError):
    """A service we depend on could not be reached or failed; the caller may retry after ``retry_after``."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 30):
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFailed(AppError):
    """A service we depend on refused what we sent on our own behalf: retrying will not help."""

    code = "upstream_error"
