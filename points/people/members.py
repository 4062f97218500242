"""Members: registration, authentication, approval, suspension and roles (communities: points/people/communities.py,
passwords: points/people/passwords.py).

A rider registers as a mobile grid member (流动网格员) and waits, pending,
until staff of that community approve; a resident does so too where the
community says residents need approval. Staff and admins are made by an admin
(the first by the CLI). Staff act on the riders and residents of their own
community; admins on anyone but themselves. Every decision writes one audit
row in its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from points import audit, clock, scope
from points.areas import schemes
from points.errors import Conflict, Forbidden, Invalid, NotFound, checked
from points.infra.batching import Batcher
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.ledger.honours import BOARD_NAMES
from points.people import communities, passwords, referrals
from points.privacy import mask_phone
from points.scope import REPORTER_ROLES, ROLES, Actor
from points.tables import Member
from points.vocabulary import SERVICE_PHONE_PREFIX, STAFF_ROLES, MemberStatus, Role
from rules import fields

T = TypeVar("T")
PLATFORMS = ("meituan", "eleme", "sf", "jd", "other")


def normalise_phone(raw: str) -> str:
    """E.164; a bare 11-digit mainland mobile number gets +86."""
    checked(fields.PHONE, "phone", raw)
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("0086"):
        digits = "+86" + digits[4:]
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "+86" + digits
    if re.fullmatch(r"\+861[3-9]\d{9}", digits) or re.fullmatch(r"\+(?!86)\d{8,15}", digits):
        return digits
    raise Invalid("invalid_phone", "not a phone number (11-digit mobile, or + and country code)", field="phone")


def _text(value: str, field: str, spec: fields.Text, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid("required", f"{field} is required", field=field)
    return checked(spec, field, value)


# ---------------------------------------------------------------------- members

async def create_member(community_id: int, role: str, name: str, phone: str, password: str,
                        platform: str | None = None, status: str = MemberStatus.ACTIVE, platform_rider_id: str | None = None,
                        building: str = "", area: int | None = None, password_hash: str | None = None,
                        referred_by: int | None = None) -> int:
    """Insert a member with their ledger accounts; the unique phone is the check for a duplicate. `area`: an
    admin of that street or district only. `password_hash`: the password already hashed (members brought in
    together under one hash, who then sign in with that password), instead of hashing `password` here."""
    if role not in ROLES:
        raise Invalid("invalid_role", f"role must be one of {', '.join(ROLES)}", field="role")
    if platform is not None and platform not in PLATFORMS:
        raise Invalid("invalid_platform", f"platform must be one of {', '.join(PLATFORMS)}", field="platform")
    passwords.check_rule(password)
    name = _text(name, "name", fields.PERSON_NAME)
    phone = normalise_phone(phone)
    hashed = password_hash or await passwords.hashed(password)

    async def run() -> int:
        mid = await _insert_member(community_id, role, name, phone, hashed, platform, status, platform_rider_id,
                                   building)
        if area is not None or referred_by is not None:  # a new member: never their own referrer
            await sql("UPDATE member SET area = {}, referred_by = {} WHERE id = {} RETURNING id", area, referred_by,
                      mid)
        return mid

    return await write(run)


async def _insert_member(community_id: int, role: str, name: str, phone: str, password_hash: str,
                         platform: str | None, status: str, platform_rider_id: str | None, building: str) -> int:
    rows = await Member.insert(Member(
        community=community_id, role=role, name=name, phone=phone, password_hash=password_hash,
        platform=platform, platform_rider_id=platform_rider_id, building=building, status=status,
        created_at=clock.now(),
    )).on_conflict(target=Member.phone, action="DO NOTHING").returning(Member.id)
    if not rows:
        raise Conflict("phone_taken", "a member with this phone number exists", field="phone")
    await ledger.open_member_accounts(rows[0]["id"], community_id)
    return rows[0]["id"]


@dataclass(frozen=True)
class Registration:
    role: str
    phone: str
    name: str
    password: str
    community: str
    platform: str | None = None
    platform_rider_id: str | None = None
    building: str = ""
    referral_code: str | None = None  # 推荐码: the code of the member who brought them


async def register(reg: Registration) -> int:
    """注册志愿者: a rider (always pending) or a resident (pending where the community asks for approval)."""
    if reg.role not in REPORTER_ROLES:
        raise Invalid("invalid_role", "register as rider or resident; staff accounts are made by an admin",
                      field="role")
    platform = rider_id = None
    if reg.role == Role.RIDER:
        if reg.platform not in PLATFORMS:
            raise Invalid("invalid_platform", f"platform must be one of {', '.join(PLATFORMS)}", field="platform")
        platform = reg.platform
        rider_id = _text(reg.platform_rider_id or "", "platform_rider_id", fields.PLATFORM_RIDER_ID)
    building = _text(reg.building, "building", fields.BUILDING, required=False)
    community = await communities.community_by_code(reg.community)
    referred_by = await referrals.referrer(reg.referral_code, community["id"]) if reg.referral_code else None
    needs_approval = reg.role == Role.RIDER or community["residents_need_approval"]
    return await create_member(community["id"], reg.role, reg.name, reg.phone, reg.password, platform,
                               MemberStatus.PENDING if needs_approval else MemberStatus.ACTIVE, rider_id, building,
                               referred_by=referred_by)


async def authenticate(phone: str, password: str) -> Actor | None:
    """The member for these credentials, or None; as slow for an unknown phone as for a wrong password."""
    try:
        phone = normalise_phone(phone)
    except Invalid:
        await passwords.matches(password, passwords.DUMMY_HASH)
        return None
    rows = await sql("SELECT * FROM member WHERE phone = {} AND status <> {}", phone, MemberStatus.DELETED)
    if not rows:
        await passwords.matches(password, passwords.DUMMY_HASH)
        return None
    if not await passwords.matches(password, rows[0]["password_hash"]):
        return None
    return _actor(rows[0])


async def authenticate_id(member_id: int, password: str) -> bool:
    rows = await sql("SELECT password_hash FROM member WHERE id = {}", member_id)
    return bool(rows) and await passwords.matches(password, rows[0]["password_hash"])


async def by_phone(phone: str) -> Actor | None:
    """The member who may receive a login code on this number (any but deleted ones)."""
    rows = await sql("SELECT * FROM member WHERE phone = {} AND status <> {} AND phone NOT LIKE {}",
                     phone, MemberStatus.DELETED, f"{SERVICE_PHONE_PREFIX}%")
    return _actor(rows[0]) if rows else None


def _actor(row: dict[str, Any]) -> Actor:
    return Actor(id=row["id"], role=row["role"], community_id=row["community"], name=row["name"],
                 status=row["status"], area_id=row.get("area"), scheme=row.get("scheme"))


async def session_actor(member_id: int, epoch: int) -> Actor | None:
    """The member a session belongs to, unless a role change or deletion since has ended it."""
    row = await _session_members.submit(member_id)
    if row is None or row["session_epoch"] != epoch or row["status"] == MemberStatus.DELETED:
        return None
    return _actor(row)


async def _members_by_id(member_ids: list[int]) -> list[dict[str, Any] | None]:
    # Every signed-in request passes here, so the requests of a busy moment share one query (and plain
    # SQL: building it through the ORM costs more than running it).
    unique = sorted(set(member_ids))
    rows = {r["id"]: r for r in await sql(
        "SELECT m.id, m.role, m.community, m.name, m.status, m.session_epoch, m.area, "
        f"{schemes.VERSION_IN_FORCE} AS scheme FROM member m LEFT JOIN community c ON c.id = m.community "
        f"WHERE m.id IN ({marks(unique)})", *unique)}
    return [rows.get(m) for m in member_ids]


_session_members: Batcher[int, dict[str, Any] | None] = Batcher(_members_by_id, max_size=500)


async def epoch(member_id: int) -> int:
    return (await sql("SELECT session_epoch FROM member WHERE id = {}", member_id))[0]["session_epoch"]


PROFILE = ("m.id, m.name, m.role, m.phone, m.platform, m.platform_rider_id, m.building, m.status, m.status_reason, "
           "m.board_name, c.id AS community_id, c.code AS community_code, c.name AS community_name")


async def profile(member: Actor) -> dict[str, Any]:
    """The acting member's own profile, with their community."""
    rows = await sql(f"SELECT {PROFILE} FROM member m JOIN community c ON c.id = m.community WHERE m.id = {{}}",
                     member.id)
    return rows[0]


async def overview(member: Actor) -> tuple[dict[str, Any], dict[str, int]]:
    """The acting member's own profile and balances, read in one statement."""
    row = (await sql(f"SELECT {PROFILE}, {ledger.balance_columns()} FROM member m "
                     "JOIN community c ON c.id = m.community WHERE m.id = {}", member.id))[0]
    return {k: v for k, v in row.items() if not k.startswith("balance_")}, ledger.balances_in(row)


# ------------------------------------------------------------- staff and admins



async def _target(actor: Actor, member_id: int) -> dict[str, Any]:
    """A member the actor may manage: in scope (else 404), not themselves, and staff manage reporters only."""
    row = await scope.one(actor, "member", member_id, "member")
    if row["id"] == actor.id:
        raise Forbidden("self_management", "nobody approves, suspends or re-roles themselves")
    if row["status"] == MemberStatus.DELETED or row["phone"].startswith(SERVICE_PHONE_PREFIX):
        raise NotFound("member")
    if actor.role != Role.ADMIN and row["role"] not in REPORTER_ROLES:
        raise Forbidden("admin_only", "only an admin manages staff accounts")
    return row


def staff_view(row: dict[str, Any]) -> dict[str, Any]:
    """A member as staff see them in lists: the phone masked."""
    return {"id": row["id"], "name": row["name"], "role": row["role"], "phone": mask_phone(row["phone"]),
            "platform": row["platform"], "platform_rider_id": row["platform_rider_id"],
            "building": row["building"], "status": row["status"], "status_reason": row["status_reason"],
            "community_id": row["community"], "created_at": row["created_at"]}


async def listing(actor: Actor, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    where, args = scope.clause(actor)
    if status is not None:
        where += " AND status = {}"
        args.append(status)
    rows = await sql("SELECT * FROM member WHERE phone NOT LIKE {}" + where + " ORDER BY id LIMIT {} OFFSET {}",
                     f"{SERVICE_PHONE_PREFIX}%", *args, limit, offset)
    return [staff_view(r) for r in rows]


async def view(actor: Actor, member_id: int) -> dict[str, Any]:
    return staff_view(await scope.one(actor, "member", member_id, "member"))


async def phone_to_call(actor: Actor, member_id: int) -> str:
    """The full number, for staff who need to call this member; the look-up is audited."""

    async def run() -> str:
        row = await scope.one(actor, "member", member_id, "member")
        if row["status"] == MemberStatus.DELETED or row["phone"].startswith(SERVICE_PHONE_PREFIX):
            raise NotFound("member")
        await audit.record(actor.id, "member.phone_view", "member", member_id, row["community"], {})
        return row["phone"]

    return await write(run)


_DECISIONS = {
    # action: (statuses it applies to, the new status, whether a reason is required)
    "approve": ((MemberStatus.PENDING, MemberStatus.DECLINED), MemberStatus.ACTIVE, False),
    "decline": ((MemberStatus.PENDING,), MemberStatus.DECLINED, True),
    "suspend": ((MemberStatus.ACTIVE,), MemberStatus.SUSPENDED, True),
    "reinstate": ((MemberStatus.SUSPENDED,), MemberStatus.ACTIVE, False),
}


async def decide(actor: Actor, member_id: int, action: str, reason: str = "") -> dict[str, Any]:
    """Approve or decline a pending member; suspend or reinstate one; the member sees the reason."""
    from_statuses, to_status, needs_reason = _DECISIONS[action]
    reason = _text(reason, "reason", fields.NOTE, required=needs_reason)

    async def run() -> dict[str, Any]:
        row = await _target(actor, member_id)
        if row["status"] not in from_statuses:
            raise Conflict("wrong_status", f"cannot {action} a member who is {row['status']}", field="status")
        done = await sql(f"UPDATE member SET status = {{}}, status_reason = {{}} WHERE id = {{}} "
                         f"AND status IN ({marks(from_statuses)}) RETURNING *", to_status, reason, member_id, *from_statuses)
        if not done:
            raise Conflict("wrong_status", "this member was changed by someone else just now")
        await audit.record(actor.id, f"member.{action}", "member", member_id, row["community"],
                           {"from": row["status"], "to": to_status, "reason": reason[:200]})
        return staff_view(done[0])

    return await write(run)


async def set_role(actor: Actor, member_id: int, role: str) -> dict[str, Any]:
    """An admin changes a member's role; the member's sessions end (they log in again)."""
    scope.require_admin(actor)
    if role not in ROLES or role == Role.HANDLER:  # a handler is made with their unit (create_staff)
        raise Invalid("invalid_role", f"role must be one of {', '.join(r for r in ROLES if r != Role.HANDLER)}",
                      field="role")

    async def run() -> dict[str, Any]:
        row = await _target(actor, member_id)
        # An admin made by an area's admin is an admin of that area, never of the whole deployment.
        done = await sql("UPDATE member SET role = {}, area = {}, session_epoch = session_epoch + 1 WHERE id = {} "
                         "RETURNING *", role, actor.area_id if role == Role.ADMIN else None, member_id)
        await audit.record(actor.id, "member.role", "member", member_id, row["community"],
                           {"from": row["role"], "to": role})
        return staff_view(done[0])

    return await write(run)


async def create_staff(actor: Actor, community_id: int, role: str, name: str, phone: str,
                       password: str, unit_id: int | None = None) -> int:
    """An admin makes a staff member, another admin, or a handler of a unit serving the community."""
    scope.require_admin(actor)
    if role not in (*STAFF_ROLES, Role.HANDLER):
        raise Invalid("invalid_role", "role must be staff, admin or handler", field="role")
    if (role == Role.HANDLER) != (unit_id is not None):
        raise Invalid("required" if role == Role.HANDLER else "invalid_input",
                      "a handler needs unit_id; only a handler has one", field="unit_id")
    passwords.check_rule(password)
    name, phone, hashed = _text(name, "name", fields.PERSON_NAME), normalise_phone(phone), await passwords.hashed(password)

    async def run() -> int:
        await scope.known_community(actor, community_id)
        if unit_id is not None and not await sql("SELECT id FROM unit_community WHERE unit = {} AND community = {}",
                                                   unit_id, community_id):
            raise Invalid("unknown_unit", "no unit with this id serves the community", field="unit_id")
        mid = await _insert_member(community_id, role, name, phone, hashed, None, MemberStatus.ACTIVE, None, "")
        if unit_id is not None:
            await sql("UPDATE member SET unit = {} WHERE id = {} RETURNING id", unit_id, mid)
        if role == Role.ADMIN and actor.area_id is not None:  # an area's admin makes admins of that area only
            await sql("UPDATE member SET area = {} WHERE id = {} RETURNING id", actor.area_id, mid)
        await audit.record(actor.id, "member.create", "member", mid, community_id,
                           {"role": role, **({"unit": unit_id} if unit_id else {})})
        return mid

    return await write(run)



async def set_board_name(actor: Actor, choice: str) -> None:
    """How the member appears on the public honour board: masked, full or hidden."""
    if choice not in BOARD_NAMES:
        raise Invalid("invalid_choice", f"board_name must be one of {', '.join(BOARD_NAMES)}", field="board_name")
    await write(lambda: sql("UPDATE member SET board_name = {} WHERE id = {} RETURNING id", choice, actor.id))
