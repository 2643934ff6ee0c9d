"""Errors of the task service, mapped to HTTP statuses by the API layer only."""

from __future__ import annotations


class ServiceError(Exception):
    """Root of the errors that the service returns to API clients."""

    status_code = 500

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    status_code = 400


class Unauthorized(ServiceError):
    status_code = 401


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class TooManyRequests(ServiceError):
    status_code = 429


class MisconfiguredServer(ServiceError):
    status_code = 500


class DependencyUnavailable(ServiceError):
    status_code = 503


# The max characters of a request value that an error message repeats.
MAX_ECHOED_CHARACTERS = 100


def quote_value(value: object, limit: int = MAX_ECHOED_CHARACTERS) -> str:
    """Return `repr(value)` cut to `limit` characters with an ellipsis, for error messages.

    A client may send megabyte-long ids or fields, and a message that repeats
    them whole would be as long.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
