"""The one `Idempotency-Key` rule, for every operation a retry must not repeat (a report, an order, a
deduction).

A key is the sender's: it is checked (8–100 visible ASCII characters, rules/fields.py) and stored per acting
member and operation, so two members' keys never meet, and one member's key for an order is not their key
for a deduction. The operation's own table holds the stored key under a unique index, which is what makes
concurrent retries resolve to one: the first insert wins, the rest find it. A retry with the same key and
the same request is answered with the first answer (`earlier()` finds it); the same key with a different
request is refused (422, `idempotency_key_reused`).
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from points.errors import Unprocessable, checked
from points.infra.db import sql
from rules import fields

HEADER = "Idempotency-Key"


class Operation(StrEnum):
    REPORT = "report"
    ORDER = "order"
    DEDUCTION = "deduct"


def form_key() -> str:
    """A fresh key for one form a page serves: sent with it, it makes every send of that form one request."""
    return "form-" + secrets.token_urlsafe(18)


def stored(actor_id: int, operation: Operation, key: str | None) -> str | None:
    """The key as stored for this member and operation (None without a key); 400 naming the header if the
    key is malformed. Reports and orders keep their historical form "{member}:{key}" in their own tables."""
    if key is None:
        return None
    checked(fields.IDEMPOTENCY_KEY, HEADER, key)
    if operation is Operation.DEDUCTION:
        return f"{operation}:{actor_id}:{key}"
    return f"{actor_id}:{key}"


def reused(what: str) -> Unprocessable:
    """The refusal for a key sent again with a different request."""
    return Unprocessable("idempotency_key_reused", f"this Idempotency-Key was used for {what}", field=HEADER)


async def earlier(table: str, stored_key: str, column: str, request: Any, what: str) -> int | None:
    """The id of the row this stored key made in `table` before (None if it made none); refused when that row
    came from a different request (its `column` differs from `request`)."""
    rows = await sql(f"SELECT id, {column} AS request FROM {table} WHERE idempotency_key = {{}}", stored_key)
    if not rows:
        return None
    if rows[0]["request"] != request:
        raise reused(what)
    return rows[0]["id"]
