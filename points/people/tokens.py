"""API tokens for machine clients (a city platform pulling reports, say).

An admin issues one for a community and a role; it acts as a service account
of that role in that community. The token is shown once; only its SHA-256 is
kept. Revoking it ends it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from points import audit, clock, scope
from points.errors import Invalid
from points.infra.db import sql, write
from points.ledger import transfers as ledger
from points.scope import Actor
from points.vocabulary import SERVICE_PHONE_PREFIX, MemberStatus, Role

TOKEN_ROLES = (Role.RIDER, Role.RESIDENT, Role.STAFF)
PREFIX = "jft_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(actor: Actor, name: str, community_id: int, role: str) -> dict[str, Any]:
    scope.require_admin(actor)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise Invalid("invalid_name", "name must be 1-80 characters", field="name")
    if role not in TOKEN_ROLES:
        raise Invalid("invalid_role", f"role must be one of {', '.join(TOKEN_ROLES)}", field="role")
    token = PREFIX + secrets.token_urlsafe(32)

    async def run() -> int:
        await scope.known_community(actor, community_id)
        now = clock.now()
        member = await sql("INSERT INTO member (community, role, name, phone, password_hash, building, status, "
                           "status_reason, session_epoch, created_at) VALUES ({}, {}, {}, {}, '!', '', {}, "
                           "'', 0, {}) RETURNING id", community_id, role, f"API: {name}",
                           f"{SERVICE_PHONE_PREFIX}{secrets.token_hex(8)}", MemberStatus.ACTIVE, now)
        await ledger.open_member_accounts(member[0]["id"], community_id)
        rows = await sql("INSERT INTO api_token (name, token_hash, member, community, role, created_by, created_at) "
                         "VALUES ({}, {}, {}, {}, {}, {}, {}) RETURNING id", name, digest(token), member[0]["id"],
                         community_id, role, actor.id, now)
        await audit.record(actor.id, "token.issue", "api_token", rows[0]["id"], community_id,
                           {"name": name, "role": role})
        return rows[0]["id"]

    token_id = await write(run)
    return {**(await listing(actor, token_id))[0], "token": token}


async def revoke(actor: Actor, token_id: int) -> dict[str, Any]:
    scope.require_admin(actor)

    async def run() -> None:
        rows = [await scope.one(actor, "api_token", token_id, "token")]
        if await sql("UPDATE api_token SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL RETURNING id",
                     clock.now(), token_id):
            await audit.record(actor.id, "token.revoke", "api_token", token_id, rows[0]["community"],
                               {"name": rows[0]["name"]})

    await write(run)
    return (await listing(actor, token_id))[0]


async def listing(actor: Actor, token_id: int | None = None) -> list[dict[str, Any]]:
    scope.require_admin(actor)
    where, args = scope.clause(actor)
    if token_id is not None:
        where, args = where + " AND id = {}", [*args, token_id]
    return await sql("SELECT id, name, community AS community_id, role, created_by, created_at, revoked_at "
                     "FROM api_token WHERE true" + where + " ORDER BY id", *args)


async def actor_for(token: str) -> Actor | None:
    rows = await sql("SELECT m.id, m.name, t.role, t.community FROM api_token t JOIN member m ON m.id = t.member "
                     "WHERE t.token_hash = {} AND t.revoked_at IS NULL AND m.status = {}", digest(token),
                     MemberStatus.ACTIVE)
    if not rows:
        return None
    r = rows[0]
    return Actor(id=r["id"], role=r["role"], community_id=r["community"], name=r["name"], status=MemberStatus.ACTIVE)
