"""Request and response shapes of the JSON API (msgspec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.datastructures import UploadFile

from rules import Category, Item


class Struct(msgspec.Struct, forbid_unknown_fields=True):
    pass


class LoginIn(Struct):
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Balance(Struct):
    spendable: int
    lifetime: int


class Profile(Struct):
    id: int
    name: str
    role: str
    phone: str
    platform: str | None
    status: str
    community_id: int
    community_code: str
    community_name: str


class Me(Struct):
    member: Profile
    balance: Balance


class LoginOut(Struct):
    token: str
    expires_in_hours: int
    member: Profile


class HistoryEntry(Struct):
    id: int
    points: int
    code: str
    reason: str
    ref: str
    rules_version: str
    created_at: datetime


class ItemBrief(Struct):
    id: str
    name_zh: str
    name_en: str
    points: int
    category: str
    priority: str
    verification: str
    unit: str | None = None


class Outcome(Struct):
    code: str
    message_zh: str
    message_en: str
    note: str


class PhotoOut(Struct):
    id: int
    width: int
    height: int
    taken_at: datetime | None
    exif_lat: float | None
    exif_lng: float | None


class SubmissionOut(Struct):
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
    duplicate_of: int | None
    submitted_at: datetime
    verified_at: datetime | None
    awarded_at: datetime | None
    points: int | None
    outcome: Outcome | None
    rules_version: str
    award_rules_version: str | None
    photos: list[PhotoOut]


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


class VerifyIn(Struct):
    item: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class RejectIn(Struct):
    reason: str
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class RulesOut(Struct):
    id: str
    version: str
    name_zh: str
    name_en: str
    timezone: str
    daily_cap: int | None
    monthly_cap: int | None
    first_reporter_only: bool
    duplicate_distance_m: int
    duplicate_window_hours: int
    categories: list[Category]
    items: list[Item]
