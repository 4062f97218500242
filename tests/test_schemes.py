"""A scheme per community: an admin gives one community its own rules file through the API, and from the next
request its reports are filed, capped and awarded under it while its neighbour keeps the default — the same
item worth different points in each, every report and award naming its own community's version. A bad file
is refused with every problem named, and changes nothing; only admins may change a scheme."""

from __future__ import annotations

from conftest import PASSWORD, ROOT, new_phone, photo, python, run
from points.areas import tree as areas
from points.infra.db import sql
from points.people import members

DEFAULT = (ROOT / "rules" / "default.toml").read_text(encoding="utf-8")
OWN = DEFAULT.replace('id = "huaguan-2026"', 'id = "second-2026"', 1).replace(
    'id = "hazard.fire_exit_blocked"\ncategory = "hazard"\nname_zh = "消防通道/安全出口堵塞占用"\n'
    'name_en = "Fire lane or exit blocked or occupied"\npoints = 50',
    'id = "hazard.fire_exit_blocked"\ncategory = "hazard"\nname_zh = "消防通道/安全出口堵塞占用"\n'
    'name_en = "Fire lane or exit blocked or occupied"\npoints = 40', 1)


def code_of(community) -> str:
    return run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]


def test_two_communities_award_the_same_item_under_their_own_schemes(api, make_community):
    assert OWN != DEFAULT and "points = 40" in OWN
    first, second = make_community(), make_community()
    phone = new_phone()
    run(members.create_member(first.id, "admin", "管理员", phone, PASSWORD))
    admin = api.user(phone)
    assert api.post(f"/api/v1/admin/communities/{second.id}/scheme", second.staff,
                    json={"content": OWN}).status_code == 403
    given = api.post(f"/api/v1/admin/communities/{second.id}/scheme", admin, json={"content": OWN})
    assert given.status_code == 200, given.text
    own_version, default_version = given.json()["version"], api.get("/api/v1/rules").json()["version"]
    assert own_version != default_version and given.json()["id"] == "second-2026"

    def fire_exit(rules: dict) -> int:
        return next(i["points"] for i in rules["items"] if i["id"] == "hazard.fire_exit_blocked")

    assert fire_exit(api.get("/api/v1/rules", second.riders[0]).json()) == 40  # the caller's community
    assert fire_exit(api.get("/api/v1/rules", first.riders[0]).json()) == 50
    assert fire_exit(api.get(f"/api/v1/rules?community={code_of(second)}").json()) == 40  # anyone, by code

    awarded = {}
    for community in (first, second):
        made = api.submit(community.riders[0], "hazard.fire_exit_blocked", [photo()], description="楼道堵了",
                          lat=23.4662 + community.id * 0.01, lng=116.7605)
        assert made.status_code == 201, made.text
        assert api.verify(community.staff, made.json()["id"]).status_code == 200
        awarded[community.id] = api.wait_awarded(community.riders[0], made.json()["id"])
    assert (awarded[first.id]["points"], awarded[second.id]["points"]) == (50, 40)
    assert (awarded[first.id]["rules_version"], awarded[second.id]["rules_version"]) == (default_version, own_version)
    assert awarded[second.id]["award_rules_version"] == own_version
    assert "40" in api.get(f"/p/{code_of(second)}").text.split("消防通道/安全出口堵塞占用", 1)[1][:200]
    changes = run(sql("SELECT details FROM audit_event WHERE action = 'community.scheme' AND object_id = {}",
                      str(second.id)))
    assert len(changes) == 1

    broken = OWN.replace("points = 40", "points = -40", 1).replace('timezone = "Asia/Shanghai"', 'timezone = "Mars"')
    refused = api.post(f"/api/v1/admin/communities/{second.id}/scheme", admin, json={"content": broken})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "content"
    found = " ".join(refused.json()["error"]["problems_found"])
    assert "unknown time zone 'Mars'" in found and "hazard.fire_exit_blocked" in found
    assert api.get("/api/v1/rules", second.riders[0]).json()["version"] == own_version  # unchanged


def test_the_operator_sets_a_scheme_from_the_command_line(make_community, tmp_path):
    community = make_community()
    path = tmp_path / "own.toml"
    path.write_text(OWN, encoding="utf-8")
    done = python("-m", "points", "set-scheme", "--community", code_of(community), str(path))
    assert done.returncode == 0 and "now runs second-2026" in done.stdout, done.stderr
    path.write_text(OWN.replace("points = 40", "points = 0", 1), encoding="utf-8")
    refused = python("-m", "points", "set-scheme", "--community", code_of(community), str(path))
    assert refused.returncode == 1 and "item 'hazard.fire_exit_blocked', field 'points': must not be 0" in refused.stderr


def test_a_street_template_is_run_by_its_communities_without_a_scheme_of_their_own(api, make_community, tmp_path):
    plain, own = make_community(), make_community()
    tag = new_phone()[-6:]
    assert python("-m", "points", "add-area", "--code", f"s{tag}", "--name", "模板街道", "--kind", "street").returncode == 0
    for community in (plain, own):
        run(areas.place_community(community.id, f"s{tag}"))
    mine = tmp_path / "own.toml"
    mine.write_text(OWN, encoding="utf-8")
    assert python("-m", "points", "set-scheme", "--community", code_of(own), str(mine)).returncode == 0
    template = tmp_path / "street.toml"
    template.write_text(OWN.replace('id = "second-2026"', 'id = "street-2026"', 1).replace("points = 40", "points = 45",
                                                                                           1), encoding="utf-8")
    published = python("-m", "points", "set-scheme", "--area", f"s{tag}", str(template))
    assert published.returncode == 0 and "its communities without a scheme of their own" in published.stdout
    assert api.get("/api/v1/rules", plain.riders[0]).json()["id"] == "street-2026"  # at once, no restart
    assert api.get("/api/v1/rules", own.riders[0]).json()["id"] == "second-2026"  # its own stays
    made = api.submit(plain.riders[0], "hazard.fire_exit_blocked", [photo()], description="堵了", lat=23.61, lng=116.7)
    assert api.verify(plain.staff, made.json()["id"]).status_code == 200
    assert api.wait_awarded(plain.riders[0], made.json()["id"])["points"] == 45
