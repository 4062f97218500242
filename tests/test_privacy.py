"""Personal information: masked phones, coarse places for anyone but the community's staff, a member's
export of their data and their deletion (PIPL). The log scan over the whole suite is in conftest.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from conftest import G1, PASSWORD, grant, near, personal_data, python, run
from points import clock
from points.infra.config import ROOT
from points.infra.db import sql
from points.shop import rewards
from rules.catalogue import load_catalogue

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


def test_the_log_scan_finds_what_it_looks_for():
    assert personal_data('SMS to 139****1234 … "POST /api/v1/me" 200 … lat 23.466 … (0:00:00.029952)') == []
    assert personal_data("phone 13912341234 at 23.46621,116.7605") == ["13912341234", "23.46621", "116.7605"]
    assert personal_data("+8613912341234 电话13912341234号") == ["13912341234", "13912341234"]
    assert personal_data('"request_id": "0102d17213764795bcb72ffeb65bd28f"') == []  # a hex id, no number


def test_staff_see_masked_phones_and_ask_for_a_full_one_on_the_record(api, community):
    rider, staff = community.riders[0], community.staff
    listed = api.get("/api/v1/staff/members", staff).json()
    assert all(re.fullmatch(r"1\d\d\*\*\*\*\d{4}|", m["phone"]) for m in listed)
    assert rider.phone not in str(listed)
    full = api.post(f"/api/v1/staff/members/{rider.id}/phone", staff)
    assert full.status_code == 200 and full.json()["phone"] == "+86" + rider.phone
    audit = run(sql("SELECT actor, details FROM audit_event WHERE action = 'member.phone_view' AND object_id = {}",
                    str(rider.id)))
    assert [a["actor"] for a in audit] == [staff.id]


def test_precise_places_are_for_the_communitys_staff(api, community, jpeg):
    rider, staff = community.riders[1], community.staff
    place = near(metres_north=12.3, metres_east=4.5)
    sid = api.submit(rider, "order.streetlight_broken", [jpeg], **place).json()["id"]
    mine = api.submission(rider, sid)
    assert (mine["lat"], mine["lng"]) == (round(place["lat"], 3), round(place["lng"], 3))
    assert mine["photos"][0]["exif_lat"] == round(G1[0], 3)
    theirs = api.get(f"/api/v1/submissions/{sid}", staff).json()
    assert (theirs["lat"], theirs["lng"]) == (place["lat"], place["lng"])


def test_a_member_downloads_their_data(api, community, jpeg):
    rider = community.riders[0]
    sid = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()["id"]
    grant(community.id, rider.id, 30)
    response = api.get("/api/v1/me/export", rider)
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["member"]["phone"] == "+86" + rider.phone
    assert [s["id"] for s in data["submissions"]] == [sid]
    assert data["balance"]["spendable"] == 30 and data["transfers"][0]["points"] == 30


def test_deletion_anonymises_and_keeps_the_books_whole(api, community, jpeg):
    resident, staff = community.residents[0], community.staff
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    grant(community.id, resident.id, 300)
    voucher = run(sql("SELECT id FROM reward WHERE community = {} AND code = 'r.meal_voucher'", community.id))[0]
    order = api.post("/api/v1/shop/orders", resident, json={"reward": voucher["id"]}).json()
    sid = api.submit(resident, "order.streetlight_broken", [jpeg], **near(metres_north=7.77)).json()["id"]

    wrong = api.post("/api/v1/me/delete", resident, json={"password": "not-my-password"})
    assert wrong.status_code == 403 and wrong.json()["error"]["field"] == "password"
    assert api.post("/api/v1/me/delete", resident, json={"password": PASSWORD}).status_code == 204

    assert api.get("/api/v1/me", resident).status_code == 401  # the session ended
    assert api.login(resident.phone).status_code == 401  # and the login with it
    seen = api.get(f"/api/v1/staff/members/{resident.id}", staff).json()
    assert (seen["name"], seen["phone"], seen["status"]) == ("已注销", "", "deleted")
    stored = run(sql("SELECT phone, name FROM member WHERE id = {}", resident.id))[0]
    assert resident.phone not in stored["phone"]
    assert run(sql("SELECT status FROM redemption WHERE id = {}", order["id"]))[0]["status"] == "cancelled"
    report = api.get(f"/api/v1/submissions/{sid}", staff).json()
    assert report["lat"] == round(report["lat"], 3)  # the place is coarse now, even for staff
    balances = run(sql("SELECT kind, balance FROM account WHERE member = {}", resident.id))
    assert {b["kind"]: b["balance"] for b in balances}["spendable"] == 0  # forfeited by a transfer
    # The same phone number can register again, as a new member.
    code = run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]
    again = api.post("/api/v1/auth/register", json={"role": "resident", "phone": resident.phone, "name": "新住户",
                                                     "password": PASSWORD, "community": code})
    assert again.status_code == 201 and again.json()["member"]["id"] != resident.id


def test_settled_reports_keep_their_precise_place_for_a_while(api, community, jpeg):
    """The hourly sweep rounds the places (and photo GPS) of reports settled more than
    JIFEN_PRECISE_PLACE_DAYS ago; a report still waiting for staff keeps its precise place."""
    rider, staff = community.riders[1], community.staff
    old, waiting, recent = (api.submit(rider, "order.streetlight_broken", [jpeg],
                                       **near(metres_north=300 * n + 1.23)).json()["id"] for n in (1, 2, 3))
    for sid in (old, recent):
        assert api.reject(staff, sid, "unclear").status_code == 200
    run(sql("UPDATE submission SET submitted_at = {} WHERE id IN ({}, {})",
            clock.now() - timedelta(days=31), old, waiting))

    swept = python("-m", "points", "sweep", env={"JIFEN_PRECISE_PLACE_DAYS": "30"})
    assert swept.returncode == 0 and "'places_coarsened': 1" in swept.stdout, swept.stdout + swept.stderr

    def place(sid: int) -> tuple[float, float]:
        seen = api.get(f"/api/v1/submissions/{sid}", staff).json()
        return seen["lat"], seen["photos"][0]["exif_lat"]

    assert place(old) == (round(place(old)[0], 3), round(G1[0], 3))
    for sid in (waiting, recent):
        assert place(sid)[0] != round(place(sid)[0], 3) and place(sid)[1] == G1[0]
