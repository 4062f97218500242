"""Test data for the case workflow: units serving a community (and one that does not), their handlers, and a
report verified and awarded so that its case is open."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from harness import PASSWORD, run
from makers import new_phone, photo
from points.infra.db import sql
from points.people import members

_places = itertools.count(1)


@dataclass
class Units:
    admin: object
    property: int  # serves the community
    gas: int  # serves the community
    elsewhere: int  # serves another community only
    handler: object  # of `property`
    gas_handler: object
    other_handler: object  # of `elsewhere`


def make_units(api, make_community, community) -> Units:
    """Two units serving `community` (property, gas), one serving another; a handler of each; an admin."""
    phone = new_phone()
    run(members.create_member(community.id, "admin", "管理员", phone, PASSWORD))
    admin = api.user(phone)
    other = make_community()

    def unit(kind: str, name: str, communities: list[int]) -> int:
        made = api.post("/api/v1/admin/units", admin, json={"kind": kind, "name": name, "communities": communities})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def handler(unit_id: int, community_id: int):
        phone = new_phone()
        made = api.post("/api/v1/admin/members", admin, json={
            "role": "handler", "community_id": community_id, "phone": phone, "name": "王师傅", "password": PASSWORD,
            "unit_id": unit_id})
        assert made.status_code == 201, made.text
        return api.user(phone)

    prop, gas, far = (unit("property", "华冠物业", [community.id]), unit("gas", "燃气公司", [community.id]),
                      unit("property", "别家物业", [other.id]))
    return Units(admin, prop, gas, far, handler(prop, community.id), handler(gas, community.id),
                 handler(far, other.id))


def awarded_case(api, community, item: str = "hazard.fire_exit_blocked", **fields) -> tuple[int, int]:
    """A report verified and awarded; its case id."""
    rider = community.riders[0]
    spot = {"grid": "G1"} if "grid" in fields else {"lat": 23.47 + next(_places) * 0.002, "lng": 116.7605}
    report = api.submit(rider, item, [photo()], **{"description": "楼道堵了", **spot, **fields})
    assert report.status_code == 201, report.text
    sid = report.json()["id"]
    assert api.verify(community.staff, sid).status_code == 200
    api.wait_awarded(rider, sid)
    rows = run(sql("SELECT id FROM case_file WHERE submission = {}", sid))
    assert rows, "an awarded report of a case item opens a case"
    return sid, rows[0]["id"]


