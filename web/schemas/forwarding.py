"""Units reached through outside systems: links, the outbox, callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from rules import fields as F
from web.schemas.base import Choice, Id, In, Out, text


class ForwardingIn(In):
    unit: Id
    kind: Choice  # webhook | georeport
    url: text(F.FORWARD_URL)
    secret: Annotated[str, msgspec.Meta(max_length=F.FORWARD_SECRET.max_length)] = ""  # webhook: made if empty
    service_code: text(F.SERVICE_CODE) = ""
    jurisdiction: text(F.SERVICE_CODE) = ""
    auto_dispatch: bool = False


class ForwardingOut(Out):
    id: int
    unit: int
    unit_name: str
    kind: str
    url: str
    service_code: str
    jurisdiction: str
    auto_dispatch: bool
    created_at: datetime
    disabled_at: datetime | None
    events: dict[str, int]
    secret: str | None = None  # only in the answer that set it


class OutboxEventOut(Out):
    id: int
    case_id: int
    unit_name: str
    action: str
    state: str
    attempts: int
    next_at: datetime
    last_error: str
    remote_id: str
    created_at: datetime
    delivered_at: datetime | None


class CallbackOut(Out):
    applied: bool
    event_id: str
    case: int
    state: str
