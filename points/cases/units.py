"""Units that fix what is reported (处置单位): an admin makes them, each of a kind the rules file names
([cases.units]) and serving one community or several (a 城管中队 serves a street's communities), and
makes their handlers (members of role `handler`, each in one unit)."""

from __future__ import annotations

from typing import Any

from points import audit, clock, scope
from points.errors import Invalid, NotFound, checked
from points.infra.db import sql, write
from points.scope import Actor
from points.vocabulary import MemberStatus, Role
from rules import Rules, fields


async def create_unit(actor: Actor, rules: Rules, kind: str, name: str, community_ids: list[int]) -> dict[str, Any]:
    scope.require_admin(actor, "make units")
    if kind not in {u.id for u in rules.cases.units}:
        raise Invalid("invalid_choice", f"kind must be one of {', '.join(u.id for u in rules.cases.units)}",
                      field="kind")
    name = checked(fields.UNIT_NAME, "name", name.strip())
    if not community_ids:
        raise Invalid("required", "a unit serves at least one community", field="communities")

    async def run() -> int:
        ids = await scope.known_communities(actor, community_ids, "communities")
        uid = (await sql("INSERT INTO unit (kind, name, created_at) VALUES ({}, {}, {}) RETURNING id",
                         kind, name, clock.now()))[0]["id"]
        for cid in ids:
            await sql("INSERT INTO unit_community (key, unit, community) VALUES ({}, {}, {})", f"{uid}:{cid}", uid, cid)
            await audit.record(actor.id, "unit.create", "unit", uid, cid, {"kind": kind, "name": name})
        return uid

    return await unit(await write(run))


async def unit(unit_id: int) -> dict[str, Any]:
    rows = await sql("SELECT id, kind, name FROM unit WHERE id = {}", unit_id)
    if not rows:
        raise NotFound("unit")
    serves = await sql("SELECT community FROM unit_community WHERE unit = {} ORDER BY community", unit_id)
    return {**rows[0], "communities": [r["community"] for r in serves]}


async def listing(actor: Actor, community_id: int | None = None) -> list[dict[str, Any]]:
    """Every unit (an admin's view), or those serving one community."""
    scope.require_admin(actor, "list units")
    where, args = scope.clause(actor, "uc.community")
    ids = [u["id"] for u in (await serving(community_id) if community_id else await sql(
        "SELECT DISTINCT u.id FROM unit u JOIN unit_community uc ON uc.unit = u.id WHERE true" + where + " ORDER BY u.id",
        *args))]
    return [await unit(i) for i in ids]


async def serving(community_id: int) -> list[dict[str, Any]]:
    """The units that serve a community, to dispatch its cases to."""
    return await sql("SELECT u.id, u.kind, u.name FROM unit u JOIN unit_community uc ON uc.unit = u.id "
                     "WHERE uc.community = {} ORDER BY u.kind, u.name", community_id)


async def serves(unit_id: int, community_id: int) -> bool:
    return bool(await sql("SELECT id FROM unit_community WHERE unit = {} AND community = {}", unit_id, community_id))


async def service_actor(member_id: int) -> Actor:
    """The service account an outside system moves its unit's cases as (points/cases/forwarding.py)."""
    row = (await sql("SELECT id, name, community FROM member WHERE id = {}", member_id))[0]
    return Actor(id=row["id"], role=Role.HANDLER, community_id=row["community"], name=row["name"],
                 status=MemberStatus.ACTIVE)
