"""Cases and the units that fix them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.datastructures import UploadFile

from rules import fields as F
from web.schemas.base import Choice, Id, In, Out, Reason, text, whole


class UnitIn(In):
    kind: Choice
    name: text(F.UNIT_NAME)
    communities: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=200)]


class UnitOut(Out):
    id: int
    kind: str
    name: str
    communities: list[int] = []


class CaseUnitOut(Out):
    id: int
    kind: str
    name: str


class CaseStepOut(Out, omit_defaults=True):
    action: str
    state: str
    at: datetime
    unit: str | None
    photos: list[int]
    note: str | None = None  # staff and handlers only


class CaseReportOut(Out):
    id: int
    item_id: str
    description: str
    address: str
    lat: float | None
    lng: float | None
    grid: str | None
    submitted_at: datetime
    photos: list[int]  # GET /cases/{id}/report-photos/{photo}


class CaseOut(Out):
    id: int
    submission_id: int
    community_id: int
    state: str
    priority: str
    unit: CaseUnitOut | None
    returned_by: int | None  # staff: the unit that sent the case back (a returned case)
    deadline: datetime | None
    hard_deadline: datetime | None
    deadline_counted_weekdays_only: list[int]  # years with no calendar loaded: Monday to Friday counted
    overdue: bool
    note: str
    reopened: int
    escalated: bool  # past its hard limit: on the community head's list
    extension_until: datetime | None  # 延期 asked by the unit, waiting for staff
    extension_reason: str
    rating: int | None  # 回访: the reporter's 1–5
    rating_comment: str
    rated_at: datetime | None
    timeline: list[CaseStepOut] | None
    report: CaseReportOut | None = None  # staff and handlers: where and what, never who


class DispatchIn(In):
    unit: Id
    note: text(F.CASE_NOTE) = ""


class CaseNoteIn(In):
    note: text(F.CASE_NOTE)


class ExtensionIn(In):
    until: datetime  # with its zone, e.g. 2026-12-04T18:00:00+08:00; no later than the hard limit
    note: text(F.CASE_NOTE)


class ExtensionDecisionIn(In):
    grant: bool
    note: text(F.CASE_NOTE) = ""


class RatingIn(In):
    stars: whole(F.RATING)
    comment: Reason = ""


class RecheckIn(In):
    fixed: bool
    note: text(F.CASE_NOTE) = ""


@dataclass
class RecheckPhotosForm:
    """A recheck's finding with the checker's own photos, as multipart/form-data (files named `photos`)."""

    fixed: bool
    note: str = ""
    photos: list[UploadFile] = field(default_factory=list)


@dataclass
class CasePhotosForm:
    """A note and photos of the fix, as multipart/form-data (files named `photos`)."""

    note: str = ""
    photos: list[UploadFile] = field(default_factory=list)
