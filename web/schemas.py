"""Request and response shapes of the JSON API (msgspec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar.datastructures import UploadFile
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from rules import Category, Item, Rules
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


class LoginIn(In):
    phone: Phone
    password: Password


class CodeIn(In):
    phone: Phone


class CodeLoginIn(In):
    phone: Phone
    code: text(F.LOGIN_CODE)


class RegisterIn(In):
    role: Choice  # rider | resident
    phone: Phone
    name: text(F.PERSON_NAME)
    password: Password
    community: text(F.COMMUNITY_CODE)  # the community's code
    platform: Choice | None = None  # riders: meituan | eleme | sf | jd | other
    platform_rider_id: text(F.PLATFORM_RIDER_ID) | None = None
    building: text(F.BUILDING) = ""


class CodeSent(Out):
    sent: bool
    expires_in_seconds: int
    resend_after_seconds: int


class ReasonIn(In):
    reason: Reason = ""


class RoleIn(In):
    role: Choice


class StaffCreateIn(In):
    role: Choice  # staff | admin | handler
    community_id: Id
    phone: Phone
    name: text(F.PERSON_NAME)
    password: Password
    unit_id: Id | None = None  # a handler's unit (a unit serving the community)


class CommunitySettingsIn(In):
    residents_need_approval: bool


class TokenIn(In):
    name: text(F.TOKEN_NAME)
    community_id: Id
    role: Choice


class TokenOut(Out):
    id: int
    name: str
    community_id: int
    role: str
    created_by: int
    created_at: datetime
    revoked_at: datetime | None
    token: str | None = None  # only in the answer that issued it


class MemberOut(Out):
    id: int
    name: str
    role: str
    phone: str  # masked
    platform: str | None
    platform_rider_id: str | None
    building: str
    status: str
    status_reason: str
    community_id: int
    created_at: datetime


class PhoneOut(Out):
    phone: str


class ReverseIn(In):
    reason: Choice  # false_report | duplicate | wrong_item | fraud | other
    note: Reason = ""


class ReverseOut(Out):
    reversed: int
    from_balance: int
    to_debt: int
    already: bool


class DeductIn(In):
    item: text(F.ITEM_ID)
    note: Reason


class DeductOut(Out):
    points: int
    from_balance: int
    to_debt: int
    already: bool


class AuditOut(Out):
    id: int
    actor_id: int | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str
    community_id: int | None
    details: dict
    created_at: datetime


class DeleteIn(In):
    password: Password


class Balance(Out):
    spendable: int
    lifetime: int
    debt: int  # points owed after a clawback found them spent; settled from the next awards


class Profile(Out):
    id: int
    name: str
    role: str
    phone: str
    platform: str | None
    platform_rider_id: str | None
    building: str
    status: str
    status_reason: str
    board_name: str  # on the public honour board: masked | full | hidden
    community_id: int
    community_code: str
    community_name: str


class Stars(Out):
    level: int
    next_at: int | None  # lifetime points for the next star; None at the top


class Me(Out):
    member: Profile
    balance: Balance
    stars: Stars


class BoardEntry(Out):
    rank: int
    member: int
    name: str
    points: int
    reached_at: datetime


class SessionOut(Out):
    member: Profile | None
    csrf_token: str | None  # send it back as X-CSRF-Token (or the _csrf_token form field) on every change
    expires_in_seconds: int | None


class Expiring(Out):
    expires_at: datetime
    points: int


class HistoryEntry(Out):
    id: int
    points: int
    code: str
    reason: str
    ref: str
    rules_version: str
    created_at: datetime


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


class RewardOut(Out):
    id: int
    code: str
    name_zh: str
    name_en: str
    description: str
    image: str
    kind: str
    price: int
    stock: int
    limit_count: int | None
    limit_period: str | None
    available_from: datetime | None
    available_until: datetime | None
    active: bool
    roles: list[str]


class ShopRewardOut(RewardOut):
    eligible: bool
    remaining_for_you: int | None
    limit_resets_at: datetime | None


class OrderIn(In):
    reward: Id


class OrderOut(Out):
    id: int
    member_id: int
    reward_id: int
    reward_code: str
    reward_name_zh: str
    reward_name_en: str
    price: int
    status: str
    pickup_code: str
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None


class FulfilIn(In):
    code: text(F.PICKUP_CODE)


class RestockIn(In):
    quantity: whole(F.QUANTITY)
    reason: text(F.STOCK_REASON)


class StockOut(Out):
    reward_id: int
    stock: int


class StockMovementOut(Out):
    id: int
    quantity: int
    reason: str
    actor: int | None
    created_at: datetime


# ------------------------------------------------------------------ units and cases


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
    state: str
    priority: str
    unit: CaseUnitOut | None
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
class CasePhotosForm:
    """A note and photos of the fix, as multipart/form-data (files named `photos`)."""

    note: str = ""
    photos: list[UploadFile] = field(default_factory=list)


# ------------------------------------------------------------------ tasks

Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class CheckpointIn(In):
    name: text(F.CHECKPOINT_NAME)
    lat: Latitude
    lng: Longitude
    what: text(F.CHECKPOINT_WHAT) = ""


class TaskIn(In):
    """A task to publish. Times with their zone (e.g. 2026-12-05T09:00:00+08:00); `units` (hours) defaults
    to the task's length, at most the item's max_units; a recheck names its `case` and takes its place."""

    kind: Choice  # activity | patrol | recheck
    title: text(F.TASK_TITLE)
    item: text(F.ITEM_ID)
    starts_at: datetime
    ends_at: datetime
    slots: whole(F.SLOTS)
    description: text(F.TASK_DESCRIPTION) = ""
    place: text(F.ADDRESS) = ""
    lat: Latitude | None = None
    lng: Longitude | None = None
    radius_m: whole(F.RADIUS_M) = 200
    signup_closes_at: datetime | None = None
    who: Choice = "both"  # rider | resident | both
    units: whole(F.UNITS) | None = None
    checkpoints: Annotated[list[CheckpointIn], msgspec.Meta(max_length=F.CHECKPOINTS.high)] = []
    case: Id | None = None


class CheckpointOut(Out):
    id: int
    position: int
    name: str
    what: str
    lat: float
    lng: float


class MySignupOut(Out):
    state: str  # signed_up | checked_in | checked_out | confirmed | no_show | excused
    checked_in_at: datetime | None
    checked_in_by: str  # code | location | photo | staff
    checked_out_at: datetime | None
    units: int | None  # what the confirmation counted
    submission_id: int | None  # the report the confirmation filed: its award is the task's points
    appeal: str
    appeal_state: str  # "" | pending | granted | refused
    appeal_note: str
    pass_code: str  # 报名码: staff type or scan it to check in a member who cannot


class TaskOut(Out):
    id: int
    kind: str
    title: str
    description: str
    item_id: str
    item_name_zh: str
    item_name_en: str
    units: int
    points: int  # a full attendance's points, before caps
    place: str
    lat: float
    lng: float
    radius_m: int
    starts_at: datetime
    ends_at: datetime
    signup_closes_at: datetime
    slots: int
    taken: int
    who: str
    status: str
    case_id: int | None
    checkpoints: list[CheckpointOut]
    distance_m: int | None  # from the place the request gave
    my_state: str | None
    my_signup: MySignupOut | None


class PresenceIn(In):
    """The site's code, or the phone's place."""

    code: text(F.TASK_CODE) | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None


class PresenceOut(Out):
    task_id: int
    state: str
    checked_in_at: datetime | None
    checked_in_by: str
    checked_out_at: datetime | None
    checkpoints_done: list[int]
    confirmed: bool = False  # the item confirms itself: the points are on their way


class CodeOut(Out):
    task_id: int
    code: str
    seconds_left: int
    title: str
    starts_at: datetime
    ends_at: datetime


class RosterPhotoOut(Out):
    id: int
    checkpoint: int
    taken_at: datetime | None


class RosterOut(Out):
    member_id: int
    name: str
    role: str
    state: str
    checked_in_at: datetime | None
    checked_in_by: str
    checked_out_at: datetime | None
    units: int | None
    submission_id: int | None
    appeal: str
    appeal_state: str
    appeal_note: str
    photos: list[RosterPhotoOut]


class ConfirmIn(In):
    members: Annotated[list[Id], msgspec.Meta(max_length=200)] | None = None  # none: everyone present


class ConfirmOut(Out):
    confirmed: int
    reports: list[int]


class AttendIn(In):
    """The member staff see on site: named, or by the pass code on their phone."""

    member: Id | None = None
    code: text(F.TASK_CODE) | None = None


class AppealIn(In):
    reason: text(F.APPEAL)


class AppealDecisionIn(In):
    grant: bool
    note: Reason = ""


class AppealOut(Out, omit_defaults=True):
    task_id: int
    appeal_state: str
    member_id: int | None = None
    returned: int | None = None


@dataclass
class CheckpointPhotoForm:
    """One photo of a checkpoint, as multipart/form-data, with the phone's place if the photo has none."""

    photo: UploadFile | None = None
    lat: float | None = None
    lng: float | None = None


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
