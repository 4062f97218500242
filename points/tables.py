"""The tables. Business logic lives in the domain modules, not here.

Ledger tables (`Account`, `Transfer`) are written only through points/ledger/transfers.py;
`Transfer` and `AuditEvent` are append-only (database triggers refuse UPDATE
and DELETE, see the second migration).
"""

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class Area(Table):
    """An area above communities: a district (区) holds streets or towns (街道/镇), which hold communities.
    `path` is the chain of ids from the top ("/1/4/"), so an area's whole subtree is one prefix match."""

    code = Varchar(length=32, unique=True)
    name = Varchar(length=100)
    kind = Varchar(length=12)  # district | street
    parent = ForeignKey("self", on_delete=OnDelete.restrict, null=True, default=None)
    path = Varchar(length=200, index=True)
    rules_version = Varchar(length=16, default="")  # a template scheme its communities run until given their own
    created_at = Timestamptz()


class Community(Table):
    code = Varchar(length=32, unique=True)
    name = Varchar(length=100)
    name_en = Varchar(length=100, default="")
    residents_need_approval = Boolean(default=False)
    rules_version = Varchar(length=16, default="")  # the community's own scheme (rules_version); "": the default
    area = ForeignKey(Area, on_delete=OnDelete.restrict, null=True, default=None, index=True)  # its street
    created_at = Timestamptz()


class Grid(Table):
    """A grid (网格) of a community; `polygon` is its boundary, a GeoJSON Polygon or MultiPolygon ([lng, lat])."""

    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    code = Varchar(length=32)
    name = Varchar(length=100)
    polygon = JSON(default=[])  # [] until a boundary is given


class Unit(Table):
    """A unit that fixes things (处置单位) — a property company, a 城管中队, the gas company — of a kind the
    rules file names ([cases.units]), serving one community or several (UnitCommunity)."""

    kind = Varchar(length=32)
    name = Varchar(length=100)
    created_at = Timestamptz()


class UnitCommunity(Table):
    key = Varchar(length=40, unique=True)  # unit:community
    unit = ForeignKey(Unit, on_delete=OnDelete.restrict, index=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)


class Member(Table):
    """A person (or, for an API token, a service account) in one community.

    status: pending (registered, awaiting staff) | active | declined | suspended | deleted (anonymised).
    `session_epoch` rises on every role change, so sessions from before it end.
    """

    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=16)  # rider | resident | staff | admin
    name = Varchar(length=100)
    phone = Varchar(length=20, unique=True)  # E.164; service accounts and deleted members hold a placeholder
    password_hash = Varchar(length=200)
    platform = Varchar(length=20, null=True, default=None)  # riders: meituan, eleme, …
    platform_rider_id = Varchar(length=64, null=True, default=None)
    building = Varchar(length=100, default="")
    status = Varchar(length=16, default="active")
    status_reason = Text(default="")  # why declined or suspended: the member sees it
    session_epoch = Integer(default=0)
    board_name = Varchar(length=8, default="masked")  # on the public honour board: masked | full | hidden
    last_seen_at = Timestamptz(null=True, default=None)  # for "what changed since your last visit"
    unit = ForeignKey(Unit, on_delete=OnDelete.restrict, null=True, default=None)  # a handler's unit
    area = ForeignKey(Area, on_delete=OnDelete.restrict, null=True, default=None)  # an admin's street or district
    # 推荐: the member's own code to share (made when first asked for; unique by an index), and who referred them
    referral_code = Varchar(length=12, null=True, default=None)
    referred_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class ApiToken(Table):
    """A machine client's bearer token, scoped to a community and a role; only its SHA-256 is stored."""

    name = Varchar(length=100)
    token_hash = Varchar(length=64, unique=True)
    member = ForeignKey(Member, on_delete=OnDelete.restrict)  # the service account it acts as
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=16)
    created_by = ForeignKey(Member, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class OneTimeCode(Table):
    """A login code sent by SMS: stored salted and hashed, single use, few attempts, short life."""

    phone = Varchar(length=20, index=True)
    code_hash = Varchar(length=100)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    attempts = Integer(default=0)
    used_at = Timestamptz(null=True, default=None)


class Account(Table):
    """One side of every transfer. `key` names it, e.g. ``spendable:member:7``.

    `balance` is a cache of (credits - debits), changed only in the transaction
    that writes the transfer; reconciliation recomputes it.
    """

    key = Varchar(length=64, unique=True)
    kind = Varchar(length=24)  # spendable | lifetime | hold | debt | issuance | lifetime_issuance
    member = ForeignKey(Member, on_delete=OnDelete.restrict, null=True, index=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, null=True)
    balance = BigInt(default=0)


class Transfer(Table):
    """An immutable movement of points from one account to another."""

    idempotency_key = Varchar(length=120, unique=True)
    debit_account = ForeignKey(Account, on_delete=OnDelete.restrict, index=True)
    credit_account = ForeignKey(Account, on_delete=OnDelete.restrict, index=True)
    amount = BigInt()
    code = Varchar(length=24)  # award | deduction | reversal | …
    reason = Text()
    ref = Varchar(length=64, index=True)  # the business object, e.g. submission:12
    rules_version = Varchar(length=16, default="")
    created_at = Timestamptz()


class Submission(Table):
    member = ForeignKey(Member, on_delete=OnDelete.restrict, index=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    grid = ForeignKey(Grid, on_delete=OnDelete.restrict, null=True)
    item_id = Varchar(length=64, index=True)  # after any re-classification
    claimed_item_id = Varchar(length=64)  # as the member reported it
    units = Integer(default=1)
    priority = Varchar(length=2, default="P3")  # the item's, for the staff queue's order
    description = Text(default="")
    address = Varchar(length=200, default="")
    lat = Float(null=True, default=None)
    lng = Float(null=True, default=None)
    status = Varchar(length=16, index=True)  # submitted | awaiting_second | verified | rejected | awarded | reversed
    duplicate_of = ForeignKey("self", on_delete=OnDelete.restrict, null=True)
    photo_like = ForeignKey("self", on_delete=OnDelete.restrict, null=True)  # an earlier report with a like photo
    photo_distance = Integer(null=True, default=None)  # bits its photo's dHash differs by (0 = the same picture)
    out_of_area = Boolean(default=False)  # its place lies in none of its community's grids
    local_day = Date(index=True)  # the scheme's local date of the report, for caps
    submitted_at = Timestamptz()
    rules_version = Varchar(length=16)
    idempotency_key = Varchar(length=120, unique=True, null=True, default=None)
    request_hash = Varchar(length=64, default="")
    verified_by = ForeignKey(Member, on_delete=OnDelete.restrict, null=True)
    verified_at = Timestamptz(null=True, default=None)
    verify_note = Text(default="")
    award_after = Timestamptz(null=True, default=None)  # approved in a batch: not awarded before its undo window ends
    reject_reason = Varchar(length=24, null=True, default=None)
    points = Integer(null=True, default=None)  # what the award gave, once awarded
    award_note = Varchar(length=200, default="")  # why fewer points than the item's, if so
    award_rules_version = Varchar(length=16, default="")
    awarded_at = Timestamptz(null=True, default=None)
    reversed_by = ForeignKey(Member, on_delete=OnDelete.restrict, null=True)
    reversed_at = Timestamptz(null=True, default=None)
    reverse_reason = Text(default="")


class Approval(Table):
    """One staff member's approval of a submission; an award over the four-eyes threshold needs two."""

    key = Varchar(length=40, unique=True)  # submission:approver
    submission = ForeignKey(Submission, on_delete=OnDelete.restrict, index=True)
    approver = ForeignKey(Member, on_delete=OnDelete.restrict)
    created_at = Timestamptz()


class Photo(Table):
    """A stored photo: re-encoded, EXIF stripped; what EXIF said is kept here."""

    submission = ForeignKey(Submission, on_delete=OnDelete.restrict, index=True)
    path = Varchar(length=200)
    sha256 = Varchar(length=64, index=True)  # of the uploaded bytes
    dhash = Varchar(length=16, default="")  # difference hash of the picture (points/infra/photos.py)
    width = Integer()
    height = Integer()
    size = Integer()
    taken_at = Timestamptz(null=True, default=None)
    exif_lat = Float(null=True, default=None)
    exif_lng = Float(null=True, default=None)


class PenaltyAppeal(Table):
    """申诉: a member's appeal of a penalty the engine gave them (恶意重复刷报), once per penalty (its ledger key);
    staff grant it (the points come back by compensating transfers) or refuse it with a note. Written only through
    points/reports/appeals.py."""

    key = Varchar(length=80, unique=True)  # the penalty's ledger key (vocabulary.appealable_penalty)
    member = ForeignKey(Member, on_delete=OnDelete.restrict, index=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    points = Integer()  # what the penalty took, as the member was told
    reason = Text()  # the member's, fields.APPEAL
    state = Varchar(length=12)  # pending | granted | refused (AppealState)
    note = Text(default="")  # staff's answer
    decided_by = ForeignKey(Member, on_delete=OnDelete.restrict, null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class AuditEvent(Table):
    """One row per privileged action, written in the action's transaction."""

    actor = ForeignKey(Member, on_delete=OnDelete.restrict, null=True, index=True)
    action = Varchar(length=40)
    object_type = Varchar(length=32)
    object_id = Varchar(length=64)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, null=True, index=True)
    details = JSON(default={})
    created_at = Timestamptz()


class RulesVersion(Table):
    """Every rules file a process has run with, so an old award can be explained."""

    version = Varchar(length=16, unique=True)
    path = Varchar(length=200)
    content = Text()
    first_seen_at = Timestamptz()


class Reward(Table):
    """Something the community shop offers for points."""

    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    code = Varchar(length=64)
    key = Varchar(length=100, unique=True)  # community id and code: one reward per code per community
    name_zh = Varchar(length=100)
    name_en = Varchar(length=100)
    description = Text(default="")
    image = Varchar(length=200, default="")
    kind = Varchar(length=16)  # goods | service | honour
    price = BigInt()
    stock = Integer(default=0)  # what can still be ordered; never below 0
    limit_count = Integer(null=True, default=None)  # per member per period
    limit_period = Varchar(length=8, null=True, default=None)  # month | quarter | year
    roles = Varchar(length=40, default="rider,resident")
    available_from = Timestamptz(null=True, default=None)
    available_until = Timestamptz(null=True, default=None)
    active = Boolean(default=True)


class StockMovement(Table):
    """Stock put on the shelf (initial load, restock, correction); orders are counted from `Redemption`."""

    reward = ForeignKey(Reward, on_delete=OnDelete.restrict, index=True)
    quantity = Integer()
    reason = Varchar(length=200)
    actor = ForeignKey(Member, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz()


class Redemption(Table):
    """An order in the shop: held → fulfilled (核销), or cancelled, or expired; it resolves once."""

    member = ForeignKey(Member, on_delete=OnDelete.restrict, index=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    reward = ForeignKey(Reward, on_delete=OnDelete.restrict, index=True)
    price = BigInt()
    status = Varchar(length=12, index=True)  # held | fulfilled | cancelled | expired
    pickup_code = Varchar(length=8, unique=True)
    period = Varchar(length=8)  # the limit period the order counts in, e.g. 2026-11, 2026-Q4, 2026
    idempotency_key = Varchar(length=120, unique=True, null=True, default=None)
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = ForeignKey(Member, on_delete=OnDelete.restrict, null=True)


class HonourBoard(Table):
    """A finished month's honour board, kept as it stood: top members by points earned that month."""

    key = Varchar(length=40, unique=True)  # community:month:rank
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    month = Varchar(length=7)  # YYYY-MM in the scheme's time zone
    rank = Integer()
    member = ForeignKey(Member, on_delete=OnDelete.restrict)
    points = BigInt()
    reached_at = Timestamptz()


class MonthPoints(Table):
    """Points each member earned (awards) in a month of the scheme's calendar: the standing honour board, kept
    by the award path in the award's transaction, so the board is an index read, not a month's ledger summed."""

    key = Varchar(length=60, unique=True)  # community:YYYY-MM:member
    community = ForeignKey(Community, on_delete=OnDelete.restrict)
    month = Varchar(length=7)
    member = ForeignKey(Member, on_delete=OnDelete.restrict)
    points = BigInt(default=0)
    reached_at = Timestamptz()  # when the latest of them came (ties go to whoever got there first)


class LotSummary(Table):
    """Where an account's points-expiry lots stood as of one transfer (`as_of`, inclusive), under the expiry
    policy named by `policy`: a read replays only the transfers after it. Written under the account's lock,
    so no transfer at or below `as_of` can still be uncommitted; a changed policy ignores it."""

    account = ForeignKey(Account, on_delete=OnDelete.restrict, unique=True)
    as_of = BigInt(default=0)
    policy = Varchar(length=60)
    book = Text()  # JSON: the open lots and the slices each order's hold took


class Case(Table, tablename="case_file"):
    """A verified problem handed to a unit to fix (交办 → 处置 → 复查 → 办结): one per report whose item opens a
    case. Written only through points/cases/workflow.py, which keeps the state machine; its timeline is CaseEvent."""

    submission = ForeignKey(Submission, on_delete=OnDelete.restrict, unique=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    unit = ForeignKey(Unit, on_delete=OnDelete.restrict, null=True, default=None, index=True)
    state = Varchar(length=20, index=True)  # open | dispatched | accepted | returned | disposed | rechecking | closed | resolved_on_site
    priority = Varchar(length=2)
    deadline = Timestamptz(null=True, default=None)  # to dispose by; restarts on each dispatch
    hard_deadline = Timestamptz(null=True, default=None)  # no extension passes it
    deadline_assumed = Varchar(length=40, default="")  # years counted Monday to Friday (no calendar for them)
    disposed_by = ForeignKey(Member, on_delete=OnDelete.restrict, null=True, default=None)
    note = Text(default="")  # the latest word: a return's reason, a disposal's note, a recheck's finding
    reopened = Integer(default=0)
    extension_until = Timestamptz(null=True, default=None)  # 延期: what the unit asks for …
    extension_reason = Text(default="")  # … and why; staff grant (the deadline moves) or refuse
    chased_for = Timestamptz(null=True, default=None)  # the deadline whose lapse was told (督办), once
    escalated = Boolean(default=False)  # past its hard limit: on the community head's list
    rating = Integer(null=True, default=None)  # 回访: the reporter's 1–5 once it closed …
    rating_comment = Text(default="")
    rated_at = Timestamptz(null=True, default=None)  # … once
    created_at = Timestamptz()
    updated_at = Timestamptz()


class CaseEvent(Table):
    """One step of a case, as the reporter's timeline shows it; append-only."""

    case = ForeignKey(Case, on_delete=OnDelete.restrict, index=True)
    action = Varchar(length=20)  # open | dispatch | accept | return | dispose | recheck | close | reopen | resolve
    state = Varchar(length=20)  # the state it left the case in
    actor = ForeignKey(Member, on_delete=OnDelete.restrict, null=True, default=None)
    unit = ForeignKey(Unit, on_delete=OnDelete.restrict, null=True, default=None)
    note = Text(default="")
    created_at = Timestamptz()


class CasePhoto(Table):
    """A photo of the fix (处置后照片), through the same pipeline as a report's: re-encoded, EXIF kept as data."""

    case = ForeignKey(Case, on_delete=OnDelete.restrict, index=True)
    event = ForeignKey(CaseEvent, on_delete=OnDelete.restrict)
    path = Varchar(length=200)
    sha256 = Varchar(length=64)
    width = Integer()
    height = Integer()
    size = Integer()
    taken_at = Timestamptz(null=True, default=None)
    exif_lat = Float(null=True, default=None)
    exif_lng = Float(null=True, default=None)


class Task(Table):
    """Something members sign up for and do (志愿活动, 巡查任务, a recheck of a fix), tied to a scoring item:
    published by staff of its community; written through points/tasks/publishing.py and signups.py, presence
    through points/tasks/presence.py."""

    community = ForeignKey(Community, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=12)  # activity | patrol | recheck
    title = Varchar(length=100)
    description = Text(default="")
    item_id = Varchar(length=64)
    units = Integer(default=1)  # what a full attendance earns: hours for an item counted by the hour, else 1
    place = Varchar(length=200, default="")
    lat = Float()
    lng = Float()
    radius_m = Integer()
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz(index=True)
    signup_closes_at = Timestamptz()
    slots = Integer()
    who = Varchar(length=8, default="both")  # rider | resident | both
    case = ForeignKey(Case, on_delete=OnDelete.restrict, null=True, default=None)  # a recheck's case
    secret = Varchar(length=64)  # the rotating code's key: it leaves the server only as codes
    status = Varchar(length=12, default="published")  # published | cancelled
    cancelled_at = Timestamptz(null=True, default=None)  # called off: when (its members are told)
    created_by = ForeignKey(Member, on_delete=OnDelete.restrict)
    created_at = Timestamptz()


class Checkpoint(Table, tablename="task_checkpoint"):
    """A place a patrol must photograph, and what to look at there."""

    task = ForeignKey(Task, on_delete=OnDelete.restrict, index=True)
    position = Integer()
    name = Varchar(length=100)
    what = Varchar(length=200, default="")
    lat = Float()
    lng = Float()


class Signup(Table, tablename="task_signup"):
    """A member's place on a task and how it went; one per task and member (`key`)."""

    key = Varchar(length=40, unique=True)  # task:member
    task = ForeignKey(Task, on_delete=OnDelete.restrict, index=True)
    member = ForeignKey(Member, on_delete=OnDelete.restrict, index=True)
    community = ForeignKey(Community, on_delete=OnDelete.restrict)
    state = Varchar(length=12, index=True)  # points/vocabulary.SignupState
    checked_in_at = Timestamptz(null=True, default=None)
    checked_in_by = Varchar(length=12, default="")  # code | location | photo | staff
    checked_out_at = Timestamptz(null=True, default=None)
    units = Integer(null=True, default=None)  # what the confirmation counted
    submission = ForeignKey(Submission, on_delete=OnDelete.restrict, null=True, default=None, unique=True)
    confirmed_by = ForeignKey(Member, on_delete=OnDelete.restrict, null=True, default=None)
    appeal = Text(default="")  # a no-show's reason, once …
    appeal_state = Varchar(length=12, default="")  # … pending | granted | refused
    appeal_note = Text(default="")  # staff's answer
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TaskPhoto(Table):
    """A patrol's photo at a checkpoint (the photo pipeline's clean JPEG); one per sign-up and checkpoint."""

    key = Varchar(length=40, unique=True)  # signup:checkpoint
    signup = ForeignKey(Signup, on_delete=OnDelete.restrict, index=True)
    checkpoint = ForeignKey(Checkpoint, on_delete=OnDelete.restrict)
    path = Varchar(length=200)
    sha256 = Varchar(length=64)
    width = Integer()
    height = Integer()
    size = Integer()
    taken_at = Timestamptz(null=True, default=None)
    lat = Float(null=True, default=None)
    lng = Float(null=True, default=None)
    created_at = Timestamptz()


class Forwarding(Table):
    """A unit reached through an outside system (智网, 12345, a district platform) instead of handler accounts:
    cases dispatched to `unit` are sent there — as signed JSON webhooks, or as Open311 GeoReport v2 requests
    whose status is polled — and what comes back moves the case as the unit's own handlers would, acting as
    `member` (the unit's service account). Written only through points/cases/forwarding.py."""

    unit = ForeignKey(Unit, on_delete=OnDelete.restrict, unique=True)
    kind = Varchar(length=12)  # points/vocabulary.ForwardKind
    url = Varchar(length=500)
    secret = Varchar(length=200)  # webhook: the HMAC key both sides hold; georeport: their api_key
    service_code = Varchar(length=64, default="")  # georeport: their service code ("" → our item id)
    jurisdiction = Varchar(length=64, default="")  # georeport: their jurisdiction_id, when they need one
    auto_dispatch = Boolean(default=False)  # every new case of the communities the unit serves goes there at once
    member = ForeignKey(Member, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    disabled_at = Timestamptz(null=True, default=None)


class OutboxEvent(Table):
    """One case event owed to a forwarding, written in the transaction that moved the case (points/cases/outbox.py):
    delivered in order per case, retried with back-off, parked for staff when retries run out."""

    forwarding = ForeignKey(Forwarding, on_delete=OnDelete.restrict, index=True)
    case = ForeignKey(Case, on_delete=OnDelete.restrict, index=True)
    action = Varchar(length=20)  # the case action it tells of
    body = Text()  # the JSON sent, fixed when written: every attempt sends the same bytes
    state = Varchar(length=12, index=True)  # points/vocabulary.OutboxState
    attempts = Integer(default=0)
    next_at = Timestamptz(index=True)  # not before
    lease_until = Timestamptz(null=True, default=None)  # a sender holds it until then (a killed one lets go)
    last_error = Varchar(length=300, default="")
    remote_id = Varchar(length=64, default="")  # georeport: the service_request_id their server gave
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)


class InboundEvent(Table):
    """A status update an outside system sent back, by its event id: applied once however often it comes."""

    key = Varchar(length=120, unique=True)  # forwarding:event_id
    forwarding = ForeignKey(Forwarding, on_delete=OnDelete.restrict)
    case = ForeignKey(Case, on_delete=OnDelete.restrict)
    action = Varchar(length=20)
    received_at = Timestamptz()
