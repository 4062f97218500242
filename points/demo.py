"""Demo data for a newcomer: 华冠社区 with four grids, its shop, three units that fix things (one with a handler),
an admin, one staff member, three riders (one awaiting approval) and two residents, and two tasks open now (an
activity running, a patrol for three days)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

from points import clock, communities, members, rewards, schemes, tasks
from points.config import ROOT
from points.db import sql
from points.scope import Actor
from points.tables import Community
from points.vocabulary import MemberStatus, Role
from rules.catalogue import load_catalogue
from rules.grids import square

DEMO = tomllib.loads((Path(__file__).parent / "demo.toml").read_text(encoding="utf-8"))
LAT, LNG, STEP = 23.4660, 116.7560, 0.004
GRIDS = [{"code": f"G{n + 1}", "name": g["name"], "polygon": square(LAT + r * STEP, LNG + c * STEP, STEP)}
         for n, g in enumerate(DEMO["grid"]) for r, c in [g["cell"]]]
PEOPLE = [(p["role"], p["name"], p["phone"], p.get("platform"), p.get("status", "active")) for p in DEMO["person"]]
HANDLERS = {p["phone"]: p["unit"] for p in DEMO["person"] if p["role"] == "handler"}
PASSWORD = "jifen-demo"


def logins() -> list[tuple[str, str, str, str]]:
    """The demo's logins: (role, name, phone, password)."""
    return [(role if status == "active" else f"{role} ({status})", name, phone, PASSWORD)
            for role, name, phone, _, status in PEOPLE]


async def seed() -> bool | None:
    """Seed an empty database (True); False when the demo community is there already; None when the database
    holds other data, which the demo never touches."""
    if await Community.count() > 0:
        return False if await Community.exists().where(Community.code == DEMO["community"]["code"]) else None
    place = DEMO["community"]
    community = await communities.create_community(place["code"], place["name"], place["name_en"], GRIDS)
    unit_ids = {}
    for u in DEMO["unit"]:
        unit_ids[u["name"]] = (await sql("INSERT INTO unit (kind, name, created_at) VALUES ({}, {}, {}) RETURNING id",
                                         u["kind"], u["name"], clock.now()))[0]["id"]
        await sql("INSERT INTO unit_community (key, unit, community) VALUES ({}, {}, {})",
                  f"{unit_ids[u['name']]}:{community}", unit_ids[u["name"]], community)
    for role, name, phone, platform, status in PEOPLE:
        mid = await members.create_member(community, role, name, phone, PASSWORD, platform, status,
                                          f"{platform.upper()}-{phone[-4:]}" if platform else None)
        if phone in HANDLERS:
            await sql("UPDATE member SET unit = {} WHERE id = {} RETURNING id", unit_ids[HANDLERS[phone]], mid)
    await rewards.load_catalogue(community, load_catalogue(ROOT / "rules" / "rewards.toml"))
    await _tasks(community)
    return True


async def _tasks(community: int) -> None:
    """The demo's tasks, published by its staff member around now."""
    staff = await sql("SELECT id, name FROM member WHERE community = {} AND role = 'staff' ORDER BY id LIMIT 1",
                      community)
    actor = Actor(staff[0]["id"], Role.STAFF, community, staff[0]["name"], MemberStatus.ACTIVE)
    now = clock.now()
    for t in DEMO.get("task", []):
        lat, lng = LAT + t["cell"][0] * STEP, LNG + t["cell"][1] * STEP
        spots = [tasks.Place(t.get("checkpoint_name", "{n}").format(n=n + 1), lat + (n % 5) * 0.0004, lng + (n // 5) * 0.0004, t.get("what", ""))
                 for n in range(t.get("checkpoints", 0))]
        await tasks.publish(actor, schemes.current(), tasks.NewTask(
            kind=t["kind"], title=t["title"], item=t["item"], starts_at=now + timedelta(hours=t["from_hours"]),
            ends_at=now + timedelta(hours=t["to_hours"]), signup_closes_at=now + timedelta(hours=t["to_hours"]),
            slots=t["slots"], description=t.get("description", ""),
            place=t["place"], lat=lat, lng=lng, radius_m=t.get("radius_m", 200), checkpoints=spots))
