"""Areas above communities — a district (区) of streets or towns (街道/镇), a street of communities — and what
an area's admin sees: every community below them compared side by side, with the roll-up.

Who may see which community is points/scope.py's (an admin of an area reaches the communities of its whole
subtree, and finds nothing elsewhere). Areas are made by the operator (`python -m points add-area`).
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from points import clock, scope
from points.cases import figures as case_figures
from points.errors import Invalid, NotFound, checked
from points.infra.db import marks, sql, write
from points.scope import Actor
from points.vocabulary import SubmissionStatus, TransferCode
from rules import fields

KINDS = ("district", "street")


async def create_area(code: str, name: str, kind: str, parent_code: str | None = None) -> int:
    """An area, under its parent (a street under a district); refused naming the field."""
    checked(fields.COMMUNITY_CODE, "code", code)
    checked(fields.PERSON_NAME, "name", name)
    if kind not in KINDS:
        raise Invalid("invalid_choice", f"kind must be one of {', '.join(KINDS)}", field="kind")

    async def run() -> int:
        parent = None
        if parent_code:
            rows = await sql("SELECT id, path FROM area WHERE code = {}", parent_code)
            if not rows:
                raise Invalid("unknown_area", f"no area with code {parent_code!r}", field="parent")
            parent = rows[0]
        if await sql("SELECT id FROM area WHERE code = {}", code):
            raise Invalid("taken", f"an area with code {code!r} exists", field="code")
        area_id = (await sql("INSERT INTO area (code, name, kind, parent, path, created_at) "
                             "VALUES ({}, {}, {}, {}, '', {}) RETURNING id", code, name, kind,
                             parent["id"] if parent else None, clock.now()))[0]["id"]
        await sql("UPDATE area SET path = {} WHERE id = {}", f"{parent['path'] if parent else '/'}{area_id}/", area_id)
        return area_id

    return await write(run)


async def area_by_code(code: str, field: str = "area") -> dict[str, Any]:
    rows = await sql("SELECT * FROM area WHERE code = {}", code)
    if not rows:
        raise Invalid("unknown_area", f"no area with code {code!r}", field=field)
    return rows[0]


async def place_community(community_id: int, area_code: str) -> None:
    """Put a community in a street (or any area)."""
    area = await area_by_code(area_code)
    await write(lambda: sql("UPDATE community SET area = {} WHERE id = {} RETURNING id", area["id"], community_id))


async def compare(actor: Actor, start: datetime, end: datetime) -> dict[str, Any]:
    """Each community in the admin's scope over [start, end): reports, the share verified of those decided,
    the median hours to verify, points issued and redeemed, the cases disposed of of those due; and the
    roll-up of them all. Every figure is aggregated in SQL per community."""
    scope.require_admin(actor, "compare communities")
    where, args = scope.clause(actor, "c.id")
    communities = await sql(f"SELECT c.id, c.code, c.name, a.name AS area FROM community c "
                            f"LEFT JOIN area a ON a.id = c.area WHERE true{where} ORDER BY a.path, c.code", *args)
    ids = [c["id"] for c in communities]
    if not ids:
        return {"rows": [], "total": None}
    decided = (SubmissionStatus.VERIFIED, SubmissionStatus.AWARDED, SubmissionStatus.REVERSED)
    reports = {r["community"]: r for r in await sql(
        f"SELECT community, COUNT(*) AS reports, "
        f"SUM(CASE WHEN status IN ({marks(decided)}) THEN 1 ELSE 0 END) AS verified, "
        "SUM(CASE WHEN status = {} THEN 1 ELSE 0 END) AS rejected FROM submission "
        f"WHERE submitted_at >= {{}} AND submitted_at < {{}} AND community IN ({marks(ids)}) GROUP BY community",
        *decided, SubmissionStatus.REJECTED, start, end, *ids)}
    waits: dict[int, list[float]] = {i: [] for i in ids}
    for r in await sql(f"SELECT community, submitted_at, verified_at FROM submission WHERE verified_at IS NOT NULL "
                       f"AND submitted_at >= {{}} AND submitted_at < {{}} AND community IN ({marks(ids)})",
                       start, end, *ids):
        waits[r["community"]].append((clock.aware(r["verified_at"]) - clock.aware(r["submitted_at"])).total_seconds())
    flows = {(r["community"], r["code"]): int(r["points"] or 0) for r in await sql(
        "SELECT a.community, t.code, SUM(t.amount) AS points FROM transfer t JOIN account a ON a.id = t.credit_account "
        "WHERE t.code IN ({}, {}) AND t.created_at >= {} AND t.created_at < {} AND t.idempotency_key NOT LIKE '%:lifetime' "
        f"AND a.community IN ({marks(ids)}) GROUP BY a.community, t.code",
        TransferCode.AWARD, TransferCode.REDEEM_POST, start, end, *ids)}
    cases = await case_figures.disposal_by_community(ids, start, end)

    def figures(cids: list[int]) -> dict[str, Any]:
        n = sum(int(reports[c]["reports"]) for c in cids if c in reports)
        verified = sum(int(reports[c]["verified"] or 0) for c in cids if c in reports)
        rejected = sum(int(reports[c]["rejected"] or 0) for c in cids if c in reports)
        hours = [w / 3600 for c in cids for w in waits[c]]
        due = sum(int(cases[c]["due"]) for c in cids if c in cases)
        done = sum(int(cases[c]["done"] or 0) for c in cids if c in cases)
        return {"reports": n, "verified_share": verified / (verified + rejected) if verified + rejected else None,
                "median_hours_to_verify": median(hours) if hours else None,
                "issued": sum(flows.get((c, TransferCode.AWARD), 0) for c in cids),
                "redeemed": sum(flows.get((c, TransferCode.REDEEM_POST), 0) for c in cids),
                "cases_due": due, "disposal_rate": done / due if due else None}

    return {"rows": [{**c, **figures([c["id"]])} for c in communities], "total": figures(ids)}


async def admin_area(actor: Actor) -> dict[str, Any] | None:
    """The area an admin is the admin of (None: the whole deployment)."""
    if actor.area_id is None:
        return None
    rows = await sql("SELECT * FROM area WHERE id = {}", actor.area_id)
    if not rows:
        raise NotFound("area")
    return rows[0]
