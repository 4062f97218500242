"""Tasks: publishing, signing up, being there, confirmation and appeals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.datastructures import UploadFile

from rules import fields as F
from web.schemas.base import Choice, Id, In, Out, Reason, text, whole

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
    # an hourly activity still running: count those not checked out to its planned end (else refused, 409)
    until_end: bool = False


class ConfirmOut(Out):
    confirmed: int
    reports: list[int]


class AttendIn(In):
    """The member staff see on site: named, or by the pass code on their phone."""

    member: Id | None = None
    code: text(F.TASK_CODE) | None = None


class AppealIn(In):
    reason: text(F.APPEAL)


class CorrectIn(In):
    member: Id
    hours: whole(F.COUNTED_HOURS)  # at most the task's units
    note: Reason  # why: the member reads it with the reversal


class CorrectOut(Out):
    units: int
    reports: list[int]  # the report filed for the new hours, if one was


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
