"""Communities, grids and members; passwords and API login tokens.

The full account system (registration, approval, one-time codes, sessions
with cookies) is its own piece of work; this is the minimum the core needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from points import ledger
from points.db import sql, write
from points.errors import Conflict, Invalid
from points.tables import Community, Grid, LoginSession, Member

ROLES = ("rider", "resident", "staff", "admin")
PLATFORMS = ("meituan", "eleme", "sf", "jd", "other")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True)
class Actor:
    """Who is making a request: what the domain needs to authorise it."""

    id: int
    role: str
    community_id: int
    name: str
    status: str

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


def normalise_phone(raw: str) -> str:
    """E.164; a bare 11-digit mainland mobile number gets +86."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "+86" + digits
    if re.fullmatch(r"\+\d{8,15}", digits):
        return digits
    raise Invalid("invalid_phone", "not a phone number (11-digit mobile, or + and country code)", field="phone")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


_DUMMY_HASH = hash_password(secrets.token_hex(8))


async def create_community(code: str, name: str, name_en: str = "",
                           grids: list[dict[str, Any]] | None = None) -> int:
    async def run() -> int:
        community = Community(code=code, name=name, name_en=name_en, created_at=datetime.now(UTC))
        await community.save()
        for g in grids or []:
            await Grid.insert(Grid(community=community.id, code=g["code"], name=g["name"], polygon=g["polygon"]))
        await ledger.open_community_accounts(community.id)
        return community.id

    return await write(run)


async def create_member(community_id: int, role: str, name: str, phone: str, password: str,
                        platform: str | None = None) -> int:
    if role not in ROLES:
        raise Invalid("invalid_role", f"role must be one of {', '.join(ROLES)}", field="role")
    if platform is not None and platform not in PLATFORMS:
        raise Invalid("invalid_platform", f"platform must be one of {', '.join(PLATFORMS)}", field="platform")
    if len(password) < 8:
        raise Invalid("weak_password", "password must be at least 8 characters", field="password")
    phone = normalise_phone(phone)
    password_hash = hash_password(password)

    async def run() -> int:
        rows = await Member.insert(Member(
            community=community_id, role=role, name=name, phone=phone, password_hash=password_hash,
            platform=platform, created_at=datetime.now(UTC),
        )).on_conflict(target=Member.phone, action="DO NOTHING").returning(Member.id)
        if not rows:
            raise Conflict("phone_taken", "a member with this phone number exists", field="phone")
        await ledger.open_member_accounts(rows[0]["id"], community_id)
        return rows[0]["id"]

    return await write(run)


async def authenticate(phone: str, password: str) -> Actor | None:
    """The member for these credentials, or None; as slow for an unknown phone as for a wrong password."""
    try:
        phone = normalise_phone(phone)
    except Invalid:
        check_password(password, _DUMMY_HASH)
        return None
    row = await Member.select().where(Member.phone == phone).first()
    if row is None:
        check_password(password, _DUMMY_HASH)
        return None
    if not check_password(password, row["password_hash"]):
        return None
    return _actor(row)


def _actor(row: dict[str, Any]) -> Actor:
    return Actor(id=row["id"], role=row["role"], community_id=row["community"], name=row["name"],
                 status=row["status"])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(member_id: int, hours: int) -> str:
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await LoginSession.insert(LoginSession(token_hash=_token_hash(token), member=member_id, created_at=now,
                                           expires_at=now + timedelta(hours=hours)))
    return token


async def end_session(token: str) -> None:
    await LoginSession.delete().where(LoginSession.token_hash == _token_hash(token))


async def actor_for_token(token: str) -> Actor | None:
    # Every request passes here: plain SQL, since building the join through the ORM costs more than running it.
    rows = await sql("SELECT s.expires_at, m.id, m.role, m.community, m.name, m.status FROM login_session s "
                     "JOIN member m ON m.id = s.member WHERE s.token_hash = {}", _token_hash(token))
    if not rows or rows[0]["expires_at"] < datetime.now(UTC):
        return None
    return _actor(rows[0])


async def profile(member_id: int) -> dict[str, Any]:
    row = await Member.select(
        Member.id, Member.name, Member.role, Member.phone, Member.platform, Member.status,
        Member.community.id.as_alias("community_id"), Member.community.code.as_alias("community_code"),
        Member.community.name.as_alias("community_name"),
    ).where(Member.id == member_id).first()
    return row

