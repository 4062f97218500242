"""The whole loop over HTTP: report with a photo → staff verify → the worker awards → the member sees it."""

from __future__ import annotations

import io

from PIL import Image

from conftest import near, photo


def test_rider_report_verified_and_awarded(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    submitted = api.submit(rider, "hazard.fire_exit_blocked", [jpeg], description="3号楼楼道堆满纸箱", **near())
    assert submitted.status_code == 201, submitted.text
    report = submitted.json()
    assert report["status"] == "submitted"
    assert report["item"]["points"] == 50
    assert report["outcome"]["code"] == "submitted"
    assert report["grid_id"] is not None
    rules_version = api.get("/api/v1/rules").json()["version"]
    assert report["rules_version"] == rules_version

    queue = api.get("/api/v1/staff/submissions", staff).json()
    assert [s["id"] for s in queue] == [report["id"]]
    verified = api.verify(staff, report["id"], note="现场核实属实")
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] in ("verified", "awarded")

    awarded = api.wait_awarded(rider, report["id"])
    assert awarded["points"] == 50
    assert awarded["outcome"] is None
    assert awarded["award_rules_version"] == rules_version
    assert api.balance(rider) == {"spendable": 50, "lifetime": 50, "debt": 0}
    history = api.get("/api/v1/me/history", rider).json()
    assert [(h["points"], h["code"], h["ref"]) for h in history] == [(50, "award", f"submission:{report['id']}")]
    assert "消防通道" in history[0]["reason"]
    assert history[0]["rules_version"] == rules_version
    old_rules = api.get(f"/api/v1/rules/versions/{awarded['award_rules_version']}")
    assert old_rules.status_code == 200 and 'id = "hazard.fire_exit_blocked"' in old_rules.text
    assert api.get("/api/v1/rules/versions/0000000000000000").status_code == 404
    mine = api.get("/api/v1/me/submissions", rider).json()
    assert [(s["id"], s["status"], s["points"]) for s in mine] == [(report["id"], "awarded", 50)]


def test_stored_photo_is_reencoded_without_exif_but_its_facts_are_kept(api, community):
    rider = community.riders[0]
    original = photo(gps=(23.4662, 116.7605), taken="2026:11:20 08:30:00")
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the upload does carry GPS
    report = api.submit(rider, "order.streetlight_broken", [original], **near()).json()
    meta = report["photos"][0]
    assert meta["taken_at"].startswith("2026-11-20T08:30:00")
    assert abs(meta["exif_lat"] - 23.4662) < 1e-3 and abs(meta["exif_lng"] - 116.7605) < 1e-3

    served = api.get(f"/api/v1/submissions/{report['id']}/photos/{meta['id']}", rider)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("image/jpeg")
    stored = Image.open(io.BytesIO(served.content))
    assert stored.format == "JPEG"
    assert len(stored.getexif()) == 0
    assert served.content != original

    other_rider = community.riders[1]
    assert api.get(f"/api/v1/submissions/{report['id']}/photos/{meta['id']}", other_rider).status_code == 404
    assert api.get(f"/api/v1/submissions/{report['id']}/photos/{meta['id']}", community.staff).status_code == 200


def test_auto_accept_item_is_awarded_without_staff(api, community, jpeg):
    resident = community.residents[0]
    report = api.submit(resident, "order.illegal_ads", [jpeg], **near()).json()
    assert report["status"] in ("verified", "awarded")
    assert api.wait_awarded(resident, report["id"])["points"] == 5
    assert api.balance(resident)["spendable"] == 5


def test_rules_and_openapi_are_public_and_offline(api):
    rules = api.get("/api/v1/rules").json()
    assert len(rules["categories"]) == 4 and len(rules["items"]) == 45
    fire_exit = next(i for i in rules["items"] if i["id"] == "hazard.fire_exit_blocked")
    assert fire_exit["evidence"] == {"photos": 1, "location": True, "description": True}
    assert (fire_exit["points"], fire_exit["daily_cap"], fire_exit["who"]) == (50, 3, "both")
    assert rules["categories"][3] == {"id": "service", "name_zh": "志愿服务与信用类",
                                      "name_en": "Volunteer tasks and conduct", "daily_cap": 100, "monthly_cap": None,
                                      "case": False, "handled_by": ""}
    assert (rules["categories"][0]["case"], rules["categories"][0]["handled_by"]) == (True, "property")
    schema = api.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/submissions" in paths and "/api/v1/staff/submissions/{submission_id}/verify" in paths
    assert "cdn" not in schema.text.lower()


def test_login_logout_and_unknown_tokens(api, community):
    rider = community.riders[0]
    assert api.get("/api/v1/me").status_code == 401
    assert api.get("/api/v1/me", rider).status_code == 200
    wrong = api.login(rider.phone, "not-the-password")
    unknown = api.login("13000000000", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert api.post("/api/v1/auth/logout", rider).status_code == 204
    gone = api.get("/api/v1/me", rider)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "not_authenticated"
