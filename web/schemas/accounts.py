"""Accounts: signing in and registering, members and roles, API tokens, a member's own page and history,
reversals and deductions, the audit log."""

from __future__ import annotations

from datetime import datetime

from rules import fields as F
from web.schemas.base import Choice, Id, In, Out, Password, Phone, Reason, text


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
    referral_code: text(F.REFERRAL_CODE) | None = None  # 推荐码 of the member who brought them (optional)


class ReferralOut(Out):
    code: str  # the member's own 推荐码
    link: str  # the registration page with the code filled in


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


class HistoryAppeal(Out):
    """A penalty's 申诉 as its history line shows it."""
    state: str  # "" (not appealed) | pending | granted | refused
    open: bool  # it may be appealed now (POST /api/v1/me/history/{id}/appeal)
    note: str  # staff's answer


class HistoryEntry(Out):
    id: int
    points: int
    code: str
    reason: str  # the ledger's own record (both languages, for the audit trail)
    words_zh: str  # what it was, in plain words, as the member reads it
    words_en: str
    ref: str
    rules_version: str
    created_at: datetime
    appeal: HistoryAppeal | None = None  # a penalty the member may appeal (恶意重复刷报): what became of it


class PenaltyAppealOut(Out, omit_defaults=True):
    id: int
    member_id: int
    community_id: int
    points: int  # what the penalty took
    day: str  # the local day it was given for (YYYY-MM-DD)
    reason: str
    state: str  # pending | granted | refused
    note: str
    created_at: datetime
    updated_at: datetime
    decided_by: int | None = None
    member_name: str | None = None  # in staff's list
    returned: int | None = None  # points given back by a grant
