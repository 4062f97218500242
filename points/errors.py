"""Domain errors. Each carries a stable code, a message for people, the field
at fault (if any) and the HTTP status the web layer answers with."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra


class Invalid(DomainError):
    status = 400


def checked(spec: Any, field: str, value: Any) -> Any:
    """`value` if it fits the limits rules/fields.py declares for it; else Invalid naming the field."""
    problem = spec.problem(value)
    if problem is not None:
        code, message = problem
        raise Invalid(code, f"{field} {message}", field=field)
    return value


class Unprocessable(DomainError):
    status = 422


class TooLarge(DomainError):
    status = 413


class UnsupportedMedia(DomainError):
    status = 415


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404

    def __init__(self, what: str = "object"):
        super().__init__("not_found", f"no such {what}")


class Conflict(DomainError):
    status = 409


class InsufficientPoints(Conflict):
    def __init__(self, message: str = "not enough points"):
        super().__init__("insufficient_points", message)


class TransferMismatch(Conflict):
    """An idempotency key replayed with different fields: a bug, never a retry."""

    def __init__(self, key: str):
        super().__init__("idempotency_key_reused", f"transfer {key} exists with different fields")
