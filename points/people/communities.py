"""Communities: each with its grids, its minting accounts and its settings (whether residents wait for
approval). The admin changes the settings (audited); the CLI and the demo make communities."""

from __future__ import annotations

from typing import Any

from points import audit, clock, scope
from points.errors import Invalid, NotFound, checked
from points.infra.db import sql, write
from points.ledger import transfers as ledger
from points.scope import Actor
from points.tables import Community, Grid
from rules import fields


async def create_community(code: str, name: str, name_en: str = "", grids: list[dict[str, Any]] | None = None,
                           residents_need_approval: bool = False) -> int:
    async def run() -> int:
        community = Community(code=code, name=name, name_en=name_en, created_at=clock.now(),
                              residents_need_approval=residents_need_approval)
        await community.save()
        for g in grids or []:
            await Grid.insert(Grid(community=community.id, code=g["code"], name=g["name"], polygon=g["polygon"]))
        await ledger.open_community_accounts(community.id)
        return community.id

    return await write(run)


async def directory() -> list[dict[str, Any]]:
    """Every community's id, code and names, by name: what a registration form or an admin's form picks from
    (communities are public: their scheme pages are)."""
    return await sql("SELECT id, code, name, name AS name_zh, name_en FROM community ORDER BY name, id")


async def community_by_code(code: str, field: str = "community") -> dict[str, Any]:
    rows = await sql("SELECT * FROM community WHERE code = {}", checked(fields.COMMUNITY_CODE, field,
                                                                        (code or "").strip()))
    if not rows:
        raise Invalid("unknown_community", f"no community with code {code!r}", field=field)
    return rows[0]


async def set_community(actor: Actor, community_id: int, residents_need_approval: bool) -> None:
    scope.require_admin(actor)

    async def run() -> None:
        await scope.community(actor, community_id)
        if not await sql("UPDATE community SET residents_need_approval = {} WHERE id = {} RETURNING id",
                         residents_need_approval, community_id):
            raise NotFound("community")
        await audit.record(actor.id, "community.settings", "community", community_id, community_id,
                           {"residents_need_approval": residents_need_approval})

    await write(run)
