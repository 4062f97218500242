"""Domain errors. Each carries a stable code, a message for people, the field
at fault (if any) and the HTTP status the web layer answers with."""

from __future__ import annotations

from typing import Any

from rules.fields import whole


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


class Problems(DomainError):
    """Several things wrong with one request, each named by its own code and field, so a form can mark
    every field at once. Reads as its first problem (its status, code, field and message) to a caller that
    knows one; the rest are in `extra["problems"]`."""

    def __init__(self, problems: list[DomainError]):
        first = problems[0]
        super().__init__(first.code, first.message, first.field, **first.extra,
                         problems=[{"code": p.code, "field": p.field, "message": p.message, **p.extra}
                                   for p in problems])
        self.status = first.status
        self.all = problems


def collected(problems: list[DomainError]) -> None:
    """Raise the one problem found, or all of them together; nothing when the list is empty."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise Problems(problems)


def checked(spec: Any, field: str, value: Any) -> Any:
    """`value` if it fits the limits rules/fields.py declares for it; else Invalid naming the field."""
    problem = spec.problem(value)
    if problem is not None:
        code, message = problem
        bounds = {"max": getattr(spec, "max_length", getattr(spec, "high", None)),
                  "min": getattr(spec, "min_length", getattr(spec, "low", None))}
        raise Invalid(code, f"{field} {message}", field=field,
                      **{k: v for k, v in bounds.items() if isinstance(v, int)})
    return value


def checked_whole(spec: Any, field: str, raw: object) -> int:
    """Text (a path's id, a form's or a query's number) as a whole number within `spec`: ASCII digits only
    (rules/fields.py's `whole`); else Invalid naming the field."""
    value, problem = whole(raw, spec)
    if problem is not None:
        raise Invalid(problem[0], f"{field} {problem[1]}", field=field)
    return value


class Unprocessable(DomainError):
    status = 422


class TooLarge(DomainError):
    status = 413


class UnsupportedMedia(DomainError):
    status = 415


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404

    def __init__(self, what: str = "object", code: str = "not_found", field: str | None = None):
        # `code`: where the person who asked can be told more than "not found" (a pickup code mistyped)
        super().__init__(code, f"no such {what}", field)


class Conflict(DomainError):
    status = 409


class InsufficientPoints(Conflict):
    def __init__(self, message: str = "not enough points"):
        super().__init__("insufficient_points", message)


class TransferMismatch(Conflict):
    """An idempotency key replayed with different fields: a bug, never a retry."""

    def __init__(self, key: str):
        super().__init__("idempotency_key_reused", f"transfer {key} exists with different fields")
