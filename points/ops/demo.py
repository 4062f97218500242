"""Demo data for a newcomer: 华冠社区 with four grids, its shop, three units that fix things (one with a handler),
an admin, one staff member, three riders (one awaiting approval) and two residents, and two tasks open now (an
activity running, a patrol for three days); its street (澄华街道, in 澄海区) with a second community running a
scheme of its own (its grid, shop, staff and a rider), and the street's admin."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

from points import clock
from points.areas import schemes
from points.areas import tree as areas
from points.infra.config import ROOT
from points.infra.db import sql
from points.people import communities, members
from points.scope import Actor
from points.shop import rewards
from points.tables import Community
from points.tasks import publishing as tasks
from points.vocabulary import MemberStatus, Role
from rules.catalogue import load_catalogue
from rules.grids import square

DEMO = tomllib.loads((Path(__file__).parent / "demo.toml").read_text(encoding="utf-8"))
LAT, LNG, STEP = 23.4660, 116.7560, 0.004
GRIDS = [{"code": f"G{n + 1}", "name": g["name"], "polygon": square(LAT + r * STEP, LNG + c * STEP, STEP)}
         for n, g in enumerate(DEMO["grid"]) for r, c in [g["cell"]]]
PEOPLE = [(p["role"], p["name"], p["phone"], p.get("platform"), p.get("status", "active")) for p in DEMO["person"]]
WHERE = {p["phone"]: (p.get("community", DEMO["community"]["code"]), p.get("area")) for p in DEMO["person"]}
NAMES = {DEMO["community"]["code"]: DEMO["community"]["name"], DEMO["neighbour"]["code"]: DEMO["neighbour"]["name"],
         DEMO["street"]["code"]: DEMO["street"]["name"]}
HANDLERS = {p["phone"]: p["unit"] for p in DEMO["person"] if p["role"] == "handler"}
PASSWORD = "jifen-demo"


def logins() -> list[tuple[str, str, str, str]]:
    """The demo's logins: (role, name, phone, password)."""
    def role_of(role: str, phone: str, status: str) -> str:
        community, area = WHERE[phone]
        said = [status] if status != "active" else []
        said += [NAMES[area]] if area else [NAMES[community]] if community != DEMO["community"]["code"] else []
        return f"{role} ({', '.join(said)})" if said else role

    return [(role_of(role, phone, status), name, phone, PASSWORD) for role, name, phone, _, status in PEOPLE]


async def seed() -> bool | None:
    """Seed an empty database (True); False when the demo community is there already; None when the database
    holds other data, which the demo never touches."""
    if await Community.count() > 0:
        return False if await Community.exists().where(Community.code == DEMO["community"]["code"]) else None
    place, neighbour = DEMO["community"], DEMO["neighbour"]
    await areas.create_area(DEMO["district"]["code"], DEMO["district"]["name"], "district")
    await areas.create_area(DEMO["street"]["code"], DEMO["street"]["name"], "street", DEMO["district"]["code"])
    community = await communities.create_community(place["code"], place["name"], place["name_en"], GRIDS)
    corner = neighbour["grid"]["corner"]
    second = await communities.create_community(neighbour["code"], neighbour["name"], neighbour["name_en"], [
        {"code": neighbour["grid"]["code"], "name": neighbour["grid"]["name"], "polygon": square(*corner, STEP)}])
    ids = {place["code"]: community, neighbour["code"]: second}
    for cid in ids.values():
        await areas.place_community(cid, DEMO["street"]["code"])
        await rewards.load_catalogue(cid, load_catalogue(ROOT / "rules" / "rewards.toml"))
    await schemes.set_for_community(None, second, own_scheme(schemes.current().content, neighbour))
    unit_ids = {}
    for u in DEMO["unit"]:
        unit_ids[u["name"]] = (await sql("INSERT INTO unit (kind, name, created_at) VALUES ({}, {}, {}) RETURNING id",
                                         u["kind"], u["name"], clock.now()))[0]["id"]
        await sql("INSERT INTO unit_community (key, unit, community) VALUES ({}, {}, {})",
                  f"{unit_ids[u['name']]}:{community}", unit_ids[u["name"]], community)
    for role, name, phone, platform, status in PEOPLE:
        home, area = WHERE[phone]
        mid = await members.create_member(ids[home], role, name, phone, PASSWORD, platform, status,
                                          f"{platform.upper()}-{phone[-4:]}" if platform else None,
                                          area=(await areas.area_by_code(area))["id"] if area else None)
        if phone in HANDLERS:
            await sql("UPDATE member SET unit = {} WHERE id = {} RETURNING id", unit_ids[HANDLERS[phone]], mid)
    await _tasks(community)
    return True


def own_scheme(default: str, spec: dict) -> str:
    """The default rules file as the neighbour runs it: its own id and names, and a few items' points."""
    text = default
    for key in ("id", "name_zh", "name_en"):
        text = re.sub(rf'^{key} = ".*"$', f'{key} = "{spec["scheme"][key]}"', text, count=1, flags=re.M)
    for item, points in spec["points"].items():
        text = re.sub(rf'(id = "{re.escape(item)}"\n(?:(?!\[\[item\]\]).*\n)*?)points = -?\d+',
                      rf"\g<1>points = {points}", text, count=1)
    return text


async def _tasks(community: int) -> None:
    """The demo's tasks, published by its staff member around now."""
    staff = await sql("SELECT id, name FROM member WHERE community = {} AND role = {} ORDER BY id LIMIT 1",
                      community, Role.STAFF)
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
