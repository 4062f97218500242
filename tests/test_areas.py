"""Areas above communities: a district with two streets, a community in each. A street's admin manages the
communities of their street and finds nothing in the other (404, nothing changed); the district's admin
sees both. Each compares the communities they oversee side by side, with the roll-up."""

from __future__ import annotations

import pytest

from conftest import PASSWORD, new_phone, photo, python, run
from points.areas import tree as areas
from points.infra.db import sql
from points.people import members


@pytest.fixture
def district(api, make_community):
    tag = new_phone()[-6:]
    for code, kind, parent in ((f"d{tag}", "district", None), (f"a{tag}", "street", f"d{tag}"),
                               (f"b{tag}", "street", f"d{tag}")):
        made = python("-m", "points", "add-area", "--code", code, "--name", f"区域{code}", "--kind", kind,
                      *(["--parent", parent] if parent else []))
        assert made.returncode == 0 and f"{kind} {code} created" in made.stdout, made.stderr
    first, second = make_community(), make_community()
    run(areas.place_community(first.id, f"a{tag}"))
    run(areas.place_community(second.id, f"b{tag}"))

    def admin(of: str, community) -> object:
        phone = new_phone()
        area = run(sql("SELECT id FROM area WHERE code = {}", of))[0]["id"]
        run(members.create_member(community.id, "admin", f"管理员{of}", phone, PASSWORD, area=area))
        return api.user(phone)

    return {"first": first, "second": second, "street_a": admin(f"a{tag}", first),
            "district": admin(f"d{tag}", first), "tag": tag}


def test_a_street_admin_reaches_only_their_street_and_the_district_admin_both(api, district):
    first, second, street_a, whole = district["first"], district["second"], district["street_a"], district["district"]
    reports = {}
    for community in (first, second):
        made = api.submit(community.riders[0], "order.garbage_pileup", [photo()], description="垃圾",
                          lat=23.4662 + community.id * 0.01, lng=116.7605)
        assert made.status_code == 201, made.text
        reports[community.id] = made.json()["id"]

    assert api.get(f"/api/v1/submissions/{reports[first.id]}", street_a).status_code == 200
    assert api.get(f"/api/v1/submissions/{reports[second.id]}", street_a).status_code == 404
    assert api.post(f"/api/v1/staff/submissions/{reports[second.id]}/verify", street_a, json={}).status_code == 404
    assert api.submission(second.riders[0], reports[second.id])["status"] == "submitted"  # nothing changed
    settings = api.post(f"/api/v1/admin/communities/{second.id}", street_a, json={"residents_need_approval": True})
    assert settings.status_code == 404
    assert run(sql("SELECT residents_need_approval FROM community WHERE id = {}", second.id))[0][
        "residents_need_approval"] in (False, 0)
    staff = api.post("/api/v1/admin/members", street_a, json={
        "role": "staff", "community_id": second.id, "phone": new_phone(), "name": "越界", "password": PASSWORD})
    assert staff.status_code == 400 and staff.json()["error"]["field"] == "community_id"

    assert api.get(f"/api/v1/submissions/{reports[second.id]}", whole).status_code == 200
    assert api.post(f"/api/v1/staff/submissions/{reports[second.id]}/verify", whole, json={}).status_code == 200

    # An admin made by a street's admin is an admin of that street only.
    promoted = api.post(f"/api/v1/admin/members/{first.staff.id}/role", street_a, json={"role": "admin"})
    assert promoted.status_code == 200, promoted.text
    area = run(sql("SELECT area FROM member WHERE id = {}", first.staff.id))[0]["area"]
    assert area == run(sql("SELECT area FROM member WHERE id = {}", street_a.id))[0]["area"]

    mine = api.get("/api/v1/admin/compare", street_a).json()
    assert [r["id"] for r in mine["rows"]] == [first.id] and mine["total"]["reports"] == 1
    both = api.get("/api/v1/admin/compare", whole).json()
    assert sorted(r["id"] for r in both["rows"]) == sorted([first.id, second.id])
    assert both["total"]["reports"] == 2 and both["total"]["verified_share"] == 1.0
    page = api.get("/admin/compare", whole).text
    assert "各社区对比" in page and "合计" in page and page.count("<tr>") >= 4
    audit = api.get("/api/v1/admin/audit", street_a).json()
    assert audit and all(a["community_id"] == first.id for a in audit)
