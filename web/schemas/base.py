"""The shapes every area's requests and answers are built of: a field's limits from rules/fields.py, ids,
paths and queries with their bounds, the Idempotency-Key header, and the In and Out base structs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from rules import fields as F


def text(f: F.Text) -> Any:
    """A request's text field, limited as rules/fields.py declares it."""
    return Annotated[str, msgspec.Meta(min_length=f.min_length, max_length=f.max_length, pattern=f.pattern)]


def whole(f: F.Whole) -> Any:
    return Annotated[int, msgspec.Meta(ge=f.low, le=f.high)]


# A retry with the same key gets the first answer, never a second effect.
_KEY = F.IDEMPOTENCY_KEY
IdempotencyKey = Annotated[str, HeaderParameter(name="Idempotency-Key", min_length=_KEY.min_length,
                                                max_length=_KEY.max_length, pattern=_KEY.pattern)]
OptionalIdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", min_length=_KEY.min_length,
                                                               max_length=_KEY.max_length, pattern=_KEY.pattern)]
Id = whole(F.ID)
# Path and query parameters: litestar applies the bounds given to its own markers.
IdPath = Annotated[int, PathParameter(ge=F.ID.low, le=F.ID.high)]
IdQuery = Annotated[int | None, QueryParameter(ge=F.ID.low, le=F.ID.high)]
Offset = Annotated[int, QueryParameter(ge=0, le=F.INT32_MAX)]
DayQuery = Annotated[date | None, QueryParameter()]
# A photo shown small: `thumb` (320 px) or `screen` (1280 px), made once and kept; none: the photo as stored
PhotoSize = Annotated[Literal["thumb", "screen"] | None, QueryParameter()]


def limit_query(high: int) -> Any:
    """A page size: at least 1, at most `high`."""
    return Annotated[int, QueryParameter(ge=1, le=high)]


class In(msgspec.Struct, forbid_unknown_fields=True):
    """A request body: an unknown field is a mistake the caller should hear about."""


class Out(msgspec.Struct):
    """A response: built from domain views."""


Phone = text(F.PHONE)
Password = text(F.PASSWORD)
Reason = text(F.NOTE)
Choice = text(F.CHOICE)
