"""The domain's words: statuses, roles, account kinds and transfer codes, as str-valued enums (a member
compares equal to its text, so the database and JSON are unchanged), and the one builder and one parser of
each ledger key and reference shape.

Keys are idempotency keys: a business event writes its transfers under keys derived from the event, so
the event written twice is written once. References (`ref`) name the business object a transfer belongs to.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import NamedTuple


class Role(StrEnum):
    RIDER = "rider"
    RESIDENT = "resident"
    STAFF = "staff"
    ADMIN = "admin"
    HANDLER = "handler"  # a member of a unit (处置单位) that fixes what is reported: sees only its cases


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DECLINED = "declined"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class SubmissionStatus(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_SECOND = "awaiting_second"
    VERIFIED = "verified"
    REJECTED = "rejected"
    AWARDED = "awarded"
    REVERSED = "reversed"


class OrderStatus(StrEnum):
    HELD = "held"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class AccountKind(StrEnum):
    SPENDABLE = "spendable"
    LIFETIME = "lifetime"
    HOLD = "hold"
    DEBT = "debt"
    ISSUANCE = "issuance"
    LIFETIME_ISSUANCE = "lifetime_issuance"
    REDEEMED = "redeemed"


class CaseState(StrEnum):
    """A case's state (交办 → 处置 → 复查 → 办结); the transitions between them are points/cases/workflow.py's."""
    OPEN = "open"  # verified, waiting for staff to dispatch it
    DISPATCHED = "dispatched"  # 交办: handed to a unit, with a deadline
    ACCEPTED = "accepted"  # the unit took it on
    RETURNED = "returned"  # 回退: the unit says it is not theirs; staff dispatch it again
    DISPOSED = "disposed"  # 处置完成: the unit says it is fixed, with an after-photo
    RECHECKING = "rechecking"  # 复查: staff are checking the fix
    CLOSED = "closed"  # 办结: the fix held
    RESOLVED_ON_SITE = "resolved_on_site"  # 就地解决: staff fixed it there and then


FINISHED_CASE_STATES = (CaseState.CLOSED, CaseState.RESOLVED_ON_SITE)  # off the board; on the public page


def finished_case_sql(finished: bool = True) -> str:
    """``state IN ('closed', 'resolved_on_site')`` (or NOT IN) spelled out, as the partial indexes on case_file
    are (migration 2026-12-07T02:00): a planner uses such an index only for a query that says the same."""
    return "state " + ("" if finished else "NOT ") + "IN (" + ", ".join(f"'{s}'" for s in FINISHED_CASE_STATES) + ")"


class CaseAction(StrEnum):
    """What a case's timeline records (case_event.action): the moves of its state machine, and the events that
    leave its state as it is."""

    OPEN = "open"  # the case is opened, as its report is awarded
    DISPATCH = "dispatch"  # 交办
    RESOLVE = "resolve"  # 就地解决
    ACCEPT = "accept"
    RETURN = "return"  # 回退
    DISPOSE = "dispose"  # 处置完成
    RECHECK = "recheck"  # 复查
    CLOSE = "close"  # 办结
    REOPEN = "reopen"
    ASK_EXTENSION = "ask_extension"  # 延期申请
    GRANT_EXTENSION = "grant_extension"
    REFUSE_EXTENSION = "refuse_extension"
    RATE = "rate"  # the reporter's 满意度
    CHASE = "chase"  # 催办: the deadline is near
    ESCALATE = "escalate"  # 督办: the deadline passed


class ForwardKind(StrEnum):
    """How a forwarding reaches its outside system (points/cases/forwarding.py)."""
    WEBHOOK = "webhook"  # signed JSON POSTs; it answers with signed callbacks
    GEOREPORT = "georeport"  # we are an Open311 GeoReport v2 client: POST requests, poll their status


class OutboxState(StrEnum):
    PENDING = "pending"  # to be sent (now, or after its back-off)
    DELIVERED = "delivered"  # the receiver answered 2xx
    PARKED = "parked"  # retries ran out, or the receiver refused it: staff look and retry


class TaskKind(StrEnum):
    ACTIVITY = "activity"  # 志愿活动: be there, for hours
    PATROL = "patrol"  # 巡查任务: a photo at each checkpoint
    RECHECK = "recheck"  # 复查: photograph whether a case's problem was fixed


class TaskStatus(StrEnum):
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class SignupState(StrEnum):
    """A member's place on a task: signed_up → checked_in → checked_out → confirmed (points), or cancelled
    (before sign-up closes), or no_show (never checked in; the penalty item), whose appeal may excuse it."""
    SIGNED_UP = "signed_up"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"  # a patrol: every checkpoint photographed
    CONFIRMED = "confirmed"
    NO_SHOW = "no_show"
    EXCUSED = "excused"  # a no-show whose appeal staff granted: the penalty came back


class CheckedInBy(StrEnum):
    """How a member's presence on a task was taken."""
    NONE = ""  # not yet
    CODE = "code"  # the site's code, shown there
    LOCATION = "location"  # the phone's place, within the task's radius
    PHOTO = "photo"  # a patrol's first checkpoint photo
    STAFF = "staff"  # staff, with the member's pass code


class AppealState(StrEnum):
    NONE = ""  # never appealed
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


class TransferCode(StrEnum):
    AWARD = "award"
    SETTLE = "settle"
    REVERSAL = "reversal"
    DEDUCTION = "deduction"
    REDEEM_HOLD = "redeem_hold"
    REDEEM_POST = "redeem_post"
    REDEEM_VOID = "redeem_void"
    EXPIRE = "expire"
    FORFEIT = "forfeit"


REPORTER_ROLES = (Role.RIDER, Role.RESIDENT)
STAFF_ROLES = (Role.STAFF, Role.ADMIN)
MEMBER_KINDS = (AccountKind.SPENDABLE, AccountKind.LIFETIME, AccountKind.HOLD, AccountKind.DEBT)
MINTING_KINDS = (AccountKind.ISSUANCE, AccountKind.LIFETIME_ISSUANCE)
TAKEN_ORDERS = (OrderStatus.HELD, OrderStatus.FULFILLED)  # orders that count against stock and limits
# sign-ups that hold a slot; PRESENT ones were seen on site
HOLDING_SLOT = (SignupState.SIGNED_UP, SignupState.CHECKED_IN, SignupState.CHECKED_OUT, SignupState.CONFIRMED)
PRESENT = (SignupState.CHECKED_IN, SignupState.CHECKED_OUT)


# ------------------------------------------------------------------ references


class Ref(NamedTuple):
    kind: str  # submission | order | member | lot
    id: int


def submission_ref(submission_id: int) -> str:
    return f"submission:{submission_id}"


def order_ref(order_id: int) -> str:
    return f"order:{order_id}"


def member_ref(member_id: int, item_id: str | None = None) -> str:
    return f"member:{member_id}" + (f":{item_id}" if item_id else "")


def lot_ref(transfer_id: int) -> str:
    return f"lot:{transfer_id}"


def parse_ref(ref: str) -> Ref | None:
    """`submission:12` → Ref("submission", 12); None for a ref of no known shape."""
    kind, _, rest = ref.partition(":")
    number = rest.split(":", 1)[0]
    return Ref(kind, int(number)) if kind in ("submission", "order", "member", "lot") and number.isdigit() else None


# ------------------------------------------------------------------------ keys


def account_key(kind: AccountKind | str, owner: str, owner_id: int) -> str:
    """`spendable:member:7`, `issuance:community:1`."""
    return f"{kind}:{owner}:{owner_id}"


def award_key(submission_id: int, lifetime: bool = False) -> str:
    return f"award:submission:{submission_id}" + (":lifetime" if lifetime else "")


def reversal_key(submission_id: int) -> str:
    return f"reverse:submission:{submission_id}"


def settle_key(source_ref: str) -> str:
    """A debt paid out of the points an event brought back (`settle:submission:12`, `settle:order:5`)."""
    return f"settle:{source_ref}"


def order_hold_key(order_id: int) -> str:
    return f"order:{order_id}:hold"


def order_resolve_key(order_id: int) -> str:
    """The one key both resolutions of an order (fulfil, or cancel/expire) write: it resolves once."""
    return f"order:{order_id}:resolve"


# How the reports the engine files for a member begin (task_award_key, referral_key): not the member's own reports
ENGINE_REPORT_KEYS = ("task:", "referral:")


def task_award_key(task_id: int, member_id: int) -> str:
    """The one award of a task to a member: the key of the report its confirmation files (submission's
    unique `idempotency_key`), so the award path gives it exactly once (``award:submission:{id}``)."""
    return f"task:{task_id}:member:{member_id}"


def task_correction_key(task_id: int, member_id: int, replaced: int) -> str:
    """The report a corrected confirmation files in place of report `replaced` (0: of none, the member was
    counted 0 hours): one per report it replaces, so a retried correction files it once."""
    return f"{task_award_key(task_id, member_id)}:replaces:{replaced}"


def no_show_key(task_id: int, member_id: int) -> str:
    """The no-show penalty of a member on a task: recorded once."""
    return f"noshow:task:{task_id}:member:{member_id}"


def referral_key(member_id: int) -> str:
    """The one referral reward a new member brings whoever referred them: the key of the report filed for the
    referrer (submission's unique `idempotency_key`) when the new member's first report is verified."""
    return f"referral:member:{member_id}"


def spam_key(member_id: int, day: date) -> str:
    """The duplicate-spamming penalty of a member on a local day: recorded once."""
    return f"spam:member:{member_id}:day:{day.isoformat()}"


class Penalty(NamedTuple):
    key: str  # the penalty's own ledger key
    member_id: int
    day: date  # the local day it was given for


def appealable_penalty(key: str) -> Penalty | None:
    """The penalty a transfer under `key` took (`key` its own, or its debt part's) when the member may appeal it
    through their history (恶意重复刷报, `spam_key`); None for any other transfer. A no-show is appealed on its
    task (points/tasks/attendance.py)."""
    base = key.removesuffix(":debt")
    parts = base.split(":")
    if len(parts) == 5 and parts[0] == "spam" and parts[1] == "member" and parts[2].isdigit() and parts[3] == "day":
        try:
            return Penalty(base, int(parts[2]), date.fromisoformat(parts[4]))
        except ValueError:
            return None
    return None


def refund_key(key: str) -> str:
    """Points given back when what `key` took is undone (a penalty's granted appeal)."""
    return f"{key}:refund"


def forfeit_key(member_id: int) -> str:
    return f"forfeit:member:{member_id}"


def owed_key(key: str) -> str:
    """The part of a clawback or deduction booked as debt."""
    return f"{key}:debt"


def lifetime_key(key: str) -> str:
    """The lifetime-total side of an event."""
    return f"{key}:lifetime"


def is_lifetime_key(key: str) -> bool:
    return key.endswith(":lifetime")


def expiry_key(account_id: int, lot_id: int, last_transfer_id: int) -> str:
    return f"expire:{account_id}:{lot_id}:{last_transfer_id}"


def expired_lot(key: str) -> int:
    """The lot (the transfer that brought the points in) an expiry key expired."""
    return int(key.split(":")[2])

SERVICE_PHONE_PREFIX = "svc:"  # a service account's "phone" (an API token's, an outside system's): no person, no login
