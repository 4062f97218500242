"""Reports: what a member files and sees of it, staff's decisions, and the scheme in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.datastructures import UploadFile

from rules import Category, Item, Rules
from rules import fields as F
from web.schemas.base import Choice, In, Out, Reason, text


class ItemBrief(Out):
    id: str
    name_zh: str
    name_en: str
    points: int
    category: str
    priority: str
    verification: str
    unit: str | None = None


class Outcome(Out):
    code: str
    message_zh: str
    message_en: str
    note: str


class PhotoOut(Out):
    id: int
    width: int
    height: int
    taken_at: datetime | None
    exif_lat: float | None
    exif_lng: float | None


class SubmissionOut(Out):
    id: int
    member_id: int
    status: str
    item: ItemBrief | None
    claimed_item_id: str
    units: int
    description: str
    address: str
    lat: float | None
    lng: float | None
    grid_id: int | None
    out_of_area: bool  # its place lies in none of the community's grids
    duplicate_of: int | None
    photo_like: int | None
    photo_distance: int | None
    submitted_at: datetime
    verified_at: datetime | None
    awarded_at: datetime | None
    points: int | None
    outcome: Outcome | None
    rules_version: str
    award_rules_version: str | None
    photos: list[PhotoOut]
    grid: str | None = None  # the grid's code
    case_id: int | None = None  # once awarded, the case of the problem (GET /api/v1/cases/{id}) …
    case_state: str | None = None  # … and where it stands
    case_rated: bool = False  # 回访: the reporter has rated its outcome


@dataclass
class SubmitForm:
    """A report, as multipart/form-data (photos as files named `photos`)."""

    item: str
    description: str = ""
    lat: float | None = None
    lng: float | None = None
    grid: str | None = None
    address: str = ""
    units: int = 1
    photos: list[UploadFile] = field(default_factory=list)


class VerifyIn(In):
    item: text(F.ITEM_ID) | None = None
    note: Reason = ""


class RejectIn(In):
    reason: Choice
    note: Reason = ""


class SchemeIn(In):
    # The whole rules file (TOML). Not named `rules`: litestar takes a failing field named like a dependency
    # (the `rules` one) for a server error.
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=F.RULES_FILE.max_length)]


class RulesOut(Out):
    id: str
    version: str
    name_zh: str
    name_en: str
    timezone: str
    daily_cap: int | None
    monthly_cap: int | None
    first_reporter_only: bool
    second_approval_over: int | None
    duplicate_distance_m: int
    duplicate_window_hours: int
    categories: list[Category]
    items: list[Item]


def rules_out(rules: Rules) -> RulesOut:
    return RulesOut(
        id=rules.id, version=rules.version, name_zh=rules.name_zh, name_en=rules.name_en,
        timezone=rules.timezone, daily_cap=rules.daily_cap, monthly_cap=rules.monthly_cap,
        first_reporter_only=rules.first_reporter_only, second_approval_over=rules.second_approval_over,
        duplicate_distance_m=rules.duplicates.distance_m, duplicate_window_hours=rules.duplicates.window_hours,
        categories=list(rules.categories), items=list(rules.items))
