"""The case workflow over HTTP (交办 → 处置 → 复查 → 办结): a verified report's case is dispatched to a unit with a
deadline from the calendar, accepted, disposed of with a photo, rechecked and closed, the reporter seeing
each step; returned and dispatched again; reopened after a failed recheck; resolved on the spot; who may
see and act (anyone else: 404 and nothing written); bad input named; cases never move points."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from casework import Units, awarded_case, make_units
from client import Api
from conftest import http_get, photo, python, run
from points import clock
from points.infra.db import sql

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


@pytest.fixture
def units(api, make_community, community) -> Units:
    return make_units(api, make_community, community)


def dispose(api, handler, case_id: int, note: str = "已清理", photos: int = 1):
    return api.post(f"/api/v1/handler/cases/{case_id}/dispose", handler,
                    data={"note": note}, files=[("photos", (f"after{n}.jpg", photo(), "image/jpeg"))
                                                for n in range(photos)])


def transfers_for(sid: int) -> int:
    return run(sql("SELECT COUNT(*) AS n FROM transfer WHERE ref = {}", f"submission:{sid}"))[0]["n"]


def test_a_case_from_dispatch_to_close_and_the_reporter_sees_each_step(api, community, units):
    staff, rider = community.staff, community.riders[0]
    sid, cid = awarded_case(api, community)
    paid = transfers_for(sid)
    report = api.submission(rider, sid)
    assert (report["case_id"], report["case_state"]) == (cid, "open")  # the reporter finds the case from the report
    assert api.get(f"/api/v1/cases/{cid}", rider).json()["state"] == "open"

    sent = api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property, "note": "请今天处理"})
    assert sent.status_code == 200, sent.text
    case = sent.json()
    assert case["state"] == "dispatched" and case["unit"]["name"] == "华冠物业" and case["priority"] == "P1"
    # The handler gets there from WeChat's browser too: 高德 and 百度 beside the phone's own map (geo:).
    mine = api.get("/handler/", units.handler).text
    lat, lng = (run(sql("SELECT lat, lng FROM submission WHERE id = {}", sid))[0][k] for k in ("lat", "lng"))
    assert f"uri.amap.com/marker?position={lng},{lat}" in mine and f"api.map.baidu.com/marker?location={lat},{lng}" in mine
    assert "高德地图" in mine and "百度地图" in mine and f'href="geo:{lat},{lng}"' in mine
    assert case["deadline"] and not case["overdue"]

    mine = api.get("/api/v1/handler/cases", units.handler).json()
    assert [c["id"] for c in mine] == [cid]
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler).json()["state"] == "accepted"
    done = dispose(api, units.handler, cid, "纸箱已清走")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "disposed"
    assert api.post(f"/api/v1/staff/cases/{cid}/recheck", staff).json()["state"] == "rechecking"
    assert cid in [c["id"] for c in api.get("/api/v1/staff/cases", staff).json()]
    unnamed = api.post(f"/api/v1/staff/cases/{cid}/conclude/photos", staff, data={"note": "x"},
                       files=[("photos", ("mine.jpg", photo(), "image/jpeg"))])
    assert unnamed.status_code == 400 and unnamed.json()["error"]["field"] == "fixed", unnamed.text
    # The checker's own photo of the place, with the finding (the API's multipart door; the page's is the form)
    closed = api.post(f"/api/v1/staff/cases/{cid}/conclude/photos", staff, data={"fixed": "true", "note": "现场复查已通"},
                      files=[("photos", ("mine.jpg", photo(), "image/jpeg"))])
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed" and closed.json()["timeline"][-1]["photos"]
    # Off the board (the cases still in hand), found by asking for the closed ones
    assert cid not in [c["id"] for c in api.get("/api/v1/staff/cases", staff).json()]
    assert cid in [c["id"] for c in api.get("/api/v1/staff/cases?state=closed", staff).json()]

    seen = api.get(f"/api/v1/cases/{cid}", rider).json()  # the reporter: steps, times, the unit, the photo
    assert [s["action"] for s in seen["timeline"]] == ["open", "dispatch", "accept", "dispose", "recheck", "close"]
    assert seen["timeline"][1]["unit"] == "华冠物业" and seen["timeline"][3]["photos"] and seen["timeline"][5]["photos"]
    assert all("note" not in s for s in seen["timeline"]) and seen["note"] == ""  # staff's words stay theirs
    after = seen["timeline"][3]["photos"][0]
    picture = api.get(f"/api/v1/cases/{cid}/photos/{after}", rider)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert transfers_for(sid) == paid  # cases never move points
    actions = run(sql("SELECT action FROM audit_event WHERE object_type = 'case' AND object_id = {} ORDER BY id",
                      str(cid)))
    assert [a["action"] for a in actions] == ["case.dispatch", "case.accept", "case.dispose", "case.recheck",
                                              "case.close"]


def test_a_returned_case_is_dispatched_again_and_a_failed_recheck_reopens_it(api, community, units):
    staff = community.staff
    _, cid = awarded_case(api, community, "hazard.ebike_indoor_charging")  # the property company's, it thinks
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property})
    returned = api.post(f"/api/v1/handler/cases/{cid}/return", units.handler, json={"note": "燃气设施归燃气公司"})
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert api.get("/api/v1/handler/cases", units.handler).json() == []  # out of the property company's hands
    again = api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.gas})
    assert again.json()["state"] == "dispatched" and again.json()["unit"]["name"] == "燃气公司"
    api.post(f"/api/v1/handler/cases/{cid}/accept", units.gas_handler)
    dispose(api, units.gas_handler, cid)
    api.post(f"/api/v1/staff/cases/{cid}/recheck", staff)
    refused = api.post(f"/api/v1/staff/cases/{cid}/conclude", staff, json={"fixed": False})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "note"  # a failed recheck says why
    reopened = api.post(f"/api/v1/staff/cases/{cid}/conclude", staff, json={"fixed": False, "note": "仍有气味"})
    assert reopened.json()["state"] == "dispatched" and reopened.json()["reopened"] == 1
    assert reopened.json()["unit"]["name"] == "燃气公司"


def test_staff_resolve_a_case_on_the_spot_with_a_photo(api, community, units):
    _, cid = awarded_case(api, community, "order.streetlight_broken", grid="G1")
    url = f"/api/v1/staff/cases/{cid}/resolve"
    bare = api.post(url, community.staff, data={"note": ""}, files=[])
    problems = {p["field"] for p in bare.json()["error"]["problems"]}
    assert bare.status_code == 400 and problems == {"note", "photos"}  # both named, nothing written
    done = api.post(url, community.staff, data={"note": "已现场修复"},
                    files=[("photos", ("fixed.jpg", photo(), "image/jpeg"))])
    assert done.status_code == 200 and done.json()["state"] == "resolved_on_site"


def test_only_the_right_people_see_and_act_on_a_case(api, make_community, community, units):
    staff, rider = community.staff, community.riders[0]
    sid, cid = awarded_case(api, community)
    elsewhere = make_community()
    before = run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE object_type = 'case'"))[0]["n"]
    assert api.post(f"/api/v1/staff/cases/{cid}/dispatch", elsewhere.staff,
                    json={"unit": units.property}).status_code == 404
    assert api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.elsewhere}).status_code == 400
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property})
    for outsider in (units.gas_handler, units.other_handler, community.riders[1], elsewhere.staff):
        assert api.get(f"/api/v1/cases/{cid}", outsider).status_code == 404
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", units.other_handler).status_code == 404
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", rider).status_code == 403  # not a handler at all
    assert api.post(f"/api/v1/staff/cases/{cid}/recheck", units.handler).status_code == 403
    form = {"_csrf_token": units.other_handler.csrf}
    assert api.post(f"/handler/cases/{cid}/accept", units.other_handler, data=form).status_code == 404
    assert api.post(f"/staff/cases/{cid}/recheck", elsewhere.staff, data={"_csrf_token": elsewhere.staff.csrf}
                    ).status_code == 404
    assert api.get("/staff/cases/", rider).status_code == 403 and api.get("/handler/", staff).status_code == 403
    assert f'id="case-{cid}"' not in api.get("/handler/", units.other_handler).text
    assert {u["name"] for u in api.get("/api/v1/staff/units", staff).json()} == {"华冠物业", "燃气公司"}
    assert api.get("/api/v1/staff/units", rider).status_code == 403
    assert api.get("/api/v1/admin/units", staff).status_code == 403
    after = run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE object_type = 'case'"))[0]["n"]
    assert after == before + 1  # only the dispatch
    assert api.get(f"/api/v1/cases/{cid}", rider).status_code == 200


def test_a_transition_from_the_wrong_state_and_a_disposal_without_a_photo_are_refused(api, community, units):
    staff = community.staff
    _, cid = awarded_case(api, community)
    early = api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler)
    assert early.status_code == 404  # not dispatched to them yet: not theirs
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property})
    skipped = dispose(api, units.handler, cid)
    assert skipped.status_code == 409 and skipped.json()["error"]["code"] == "wrong_state"
    api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler)
    no_photo = dispose(api, units.handler, cid, photos=0)
    assert no_photo.status_code == 400 and no_photo.json()["error"]["code"] == "photos_required"
    assert api.get(f"/api/v1/cases/{cid}", staff).json()["state"] == "accepted"
    assert run(sql("SELECT COUNT(*) AS n FROM case_photo WHERE \"case\" = {}", cid))[0]["n"] == 0
    closing = api.post(f"/api/v1/staff/cases/{cid}/conclude", staff, json={"fixed": True})
    assert closing.status_code == 409


def test_the_deadline_follows_the_priority_and_the_calendar(api, community, units):
    """P1 runs round the clock (24 hours); P3 counts 5 working days, midnight local after the 5th."""
    staff = community.staff
    _, urgent = awarded_case(api, community, "hazard.fire_exit_blocked")
    _, ordinary = awarded_case(api, community, "order.streetlight_broken", grid="G1")
    p1 = api.post(f"/api/v1/staff/cases/{urgent}/dispatch", staff, json={"unit": units.property}).json()
    p3 = api.post(f"/api/v1/staff/cases/{ordinary}/dispatch", staff, json={"unit": units.property}).json()
    sent = run(sql("SELECT created_at FROM case_event WHERE \"case\" = {} AND action = 'dispatch'", urgent))[0]["created_at"]
    sent = sent if isinstance(sent, datetime) else datetime.fromisoformat(sent)
    due = datetime.fromisoformat(p1["deadline"])
    assert abs((due - sent).total_seconds() - 24 * 3600) < 5
    local = datetime.fromisoformat(p3["deadline"]).astimezone(ZoneInfo("Asia/Shanghai"))
    from rules.workdays import load_calendar

    assert (local.hour, local.minute) == (0, 0) and load_calendar().is_working_day(local.date() - timedelta(days=1))
    board = api.get("/api/v1/staff/cases?state=dispatched", staff).json()
    assert [c["id"] for c in board][:2] == [urgent, ordinary]  # soonest deadline first


def test_a_duplicate_report_opens_no_second_case_and_service_items_none(api, community, units):
    rider, other = community.riders
    spot = {"lat": 23.49, "lng": 116.77}
    first = api.submit(rider, "order.garbage_pileup", [photo()], **spot).json()["id"]
    second = api.submit(other, "order.garbage_pileup", [photo()], **spot).json()["id"]
    hours = api.submit(community.residents[0], "service.volunteer_hour", [photo()], description="巡逻", grid="G1")
    for sid in (first, second, hours.json()["id"]):
        assert api.verify(community.staff, sid).status_code == 200
    for who, sid in ((rider, first), (other, second), (community.residents[0], hours.json()["id"])):
        api.wait_awarded(who, sid)
    opened = {r["submission"] for r in run(sql("SELECT submission FROM case_file WHERE submission IN ({}, {}, {})",
                                               first, second, hours.json()["id"]))}
    assert opened == {first}


def later(hours: float) -> dict[str, str]:
    """The environment of a process that runs as if `hours` had passed."""
    return {"JIFEN_CLOCK_OFFSET_SECONDS": str(float(os.environ.get("JIFEN_CLOCK_OFFSET_SECONDS", "0")) + hours * 3600)}


def test_cases_past_their_deadline_are_chased_once_and_escalated_past_the_hard_limit(api, community, units):
    """P1: 24 hours round the clock, 72 at most. The sweep, run again and again, tells each lapse once."""
    staff = community.staff
    _, cid = awarded_case(api, community)  # a P1 item
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property})
    runs = [python("-m", "points", "sweep", env=later(hours)) for hours in (1, 25, 26, 73, 74)]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    steps = [s["action"] for s in api.get(f"/api/v1/cases/{cid}", staff).json()["timeline"]]
    assert steps.count("chase") == 1 and steps.count("escalate") == 1
    texts = "".join(r.stdout + r.stderr for r in runs)
    assert texts.count(f"案件#{cid}已超过处置时限") == 2  # the unit's handler and the community's staff, once
    assert units.handler.phone not in texts  # numbers masked in the log
    flagged = api.get("/api/v1/staff/cases?needs_look=true", staff).json()
    assert cid in [c["id"] for c in flagged] and next(c for c in flagged if c["id"] == cid)["escalated"]


def close(api, community, units, cid: int) -> None:
    staff = community.staff
    api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler)
    dispose(api, units.handler, cid)
    api.post(f"/api/v1/staff/cases/{cid}/recheck", staff)
    assert api.post(f"/api/v1/staff/cases/{cid}/conclude", staff, json={"fixed": True}).json()["state"] == "closed"


def test_the_reporter_rates_once_and_an_unsatisfied_rating_reopens_the_case_once(api, community, units):
    staff, rider = community.staff, community.riders[0]
    _, cid = awarded_case(api, community)
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property})
    early = api.post(f"/api/v1/cases/{cid}/rate", rider, json={"stars": 5})
    assert early.status_code == 409 and early.json()["error"]["code"] == "wrong_state"
    close(api, community, units, cid)
    assert api.post(f"/api/v1/cases/{cid}/rate", rider, json={"stars": 6}).status_code == 400
    assert api.post(f"/api/v1/cases/{cid}/rate", community.riders[1], json={"stars": 1}).status_code == 404
    rated = api.post(f"/api/v1/cases/{cid}/rate", rider, json={"stars": 2, "comment": "过两天又堆上了"})
    assert rated.status_code == 200 and rated.json()["rating"] == 2
    again = api.post(f"/api/v1/cases/{cid}/rate", rider, json={"stars": 5})
    assert again.status_code == 409 and again.json()["error"]["code"] == "rated_already"
    assert cid in [c["id"] for c in api.get("/api/v1/staff/cases?needs_look=true", staff).json()]
    reopened = api.post(f"/api/v1/staff/cases/{cid}/reopen", staff, json={"note": "居民反映仍未解决"})
    assert reopened.json()["state"] == "dispatched" and reopened.json()["reopened"] == 1
    close(api, community, units, cid)
    once = api.post(f"/api/v1/staff/cases/{cid}/reopen", staff, json={"note": "再次反映"})
    assert once.status_code == 409 and once.json()["error"]["code"] == "reopened_already"


def test_a_rating_comes_within_the_rules_days_of_closing(api, community, units):
    from points.areas import schemes
    from points.cases import rating
    from points.errors import Conflict
    from points.scope import Actor

    _, cid = awarded_case(api, community)
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", community.staff, json={"unit": units.property})
    close(api, community, units, cid)
    rider = Actor(community.riders[0].id, "rider", community.id, "", "active")
    before = os.environ.get("JIFEN_CLOCK_OFFSET_SECONDS")
    os.environ.update(later(8 * 24))  # this process's clock, 8 days on; the default window is 7
    try:
        with pytest.raises(Conflict, match="within 7 days"):
            run(rating.rate(rider, schemes.current(), cid, 4))
    finally:
        if before is None:
            del os.environ["JIFEN_CLOCK_OFFSET_SECONDS"]
        else:
            os.environ["JIFEN_CLOCK_OFFSET_SECONDS"] = before


def test_the_public_page_shows_what_was_fixed_and_nobody_who(api, make_community, community, units):

    _, cid = awarded_case(api, community)
    api.post(f"/api/v1/staff/cases/{cid}/dispatch", community.staff, json={"unit": units.property})
    close(api, community, units, cid)
    code = run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]
    page = http_get(f"{api.url}/p/{code}").text
    fixed = page.split('id="fixed"')[1].split("</ul>")[0]
    assert "消防通道" in fixed and "用时 0 天" in fixed
    photo_id = run(sql("SELECT id FROM case_photo WHERE \"case\" = {}", cid))[0]["id"]
    assert http_get(f"{api.url}/p/{code}/fixed/{photo_id}").headers["content-type"] == "image/jpeg"
    other = run(sql("SELECT code FROM community WHERE id = {}", make_community().id))[0]["code"]
    assert http_get(f"{api.url}/p/{other}/fixed/{photo_id}").status_code == 404
    reporter = run(sql("SELECT name FROM member WHERE id = {}", community.riders[0].id))[0]["name"]
    assert reporter not in page and "楼道堵了" not in page  # no names, no words of the report


def test_an_extension_is_asked_within_the_hard_limit_and_granted_or_refused(api, community, units):
    staff = community.staff
    _, cid = awarded_case(api, community, "order.streetlight_broken", grid="G1")  # P3: 5 working days, 15 at most
    case = api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property}).json()
    deadline, hard = datetime.fromisoformat(case["deadline"]), datetime.fromisoformat(case["hard_deadline"])
    url = f"/api/v1/handler/cases/{cid}/extension"
    past = api.post(url, units.handler, json={"until": (hard + timedelta(days=1)).isoformat(), "note": "配件未到"})
    assert past.status_code == 400 and past.json()["error"]["code"] == "extension_out_of_range"
    assert past.json()["error"]["field"] == "until"
    for bad in ("2026-12-04T18:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"):  # no zone; no one means
        refused = api.post(url, units.handler, json={"until": bad, "note": "配件未到"})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "until", (bad, refused.text)
    wanted = deadline + timedelta(days=3)
    asked = api.post(url, units.handler, json={"until": wanted.isoformat(), "note": "灯杆配件需三天到货"})
    assert asked.status_code == 200 and datetime.fromisoformat(asked.json()["extension_until"]) == wanted
    refused = api.post(f"/api/v1/staff/cases/{cid}/extension", staff, json={"grant": False})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "note"  # a refusal says why
    granted = api.post(f"/api/v1/staff/cases/{cid}/extension", staff, json={"grant": True})
    assert datetime.fromisoformat(granted.json()["deadline"]) == wanted and granted.json()["extension_until"] is None
    again = api.post(f"/api/v1/staff/cases/{cid}/extension", staff, json={"grant": True})
    assert again.status_code == 409 and again.json()["error"]["code"] == "no_extension_asked"
    steps = [s["action"] for s in api.get(f"/api/v1/cases/{cid}", staff).json()["timeline"]]
    assert steps[-2:] == ["ask_extension", "grant_extension"]


def test_decisions_on_one_extension_made_at_once_leave_one_standing(api, community, units):
    """Ten grants and ten refusals sent at once (two staff double-clicking on two screens): one decision stands,
    with one timeline event and one audit row; the rest are told no extension is waiting."""
    staff = community.staff
    _, cid = awarded_case(api, community, "order.streetlight_broken", grid="G1")
    case = api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property}).json()
    until = (datetime.fromisoformat(case["deadline"]) + timedelta(days=2)).isoformat()
    asked = api.post(f"/api/v1/handler/cases/{cid}/extension", units.handler, json={"until": until, "note": "配件未到"})
    assert asked.status_code == 200, asked.text
    bodies = [{"grant": True}] * 10 + [{"grant": False, "note": "请按时处置"}] * 10
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda body: Api(api.url).post(f"/api/v1/staff/cases/{cid}/extension", staff,
                                                               json=body), bodies))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 19, [a.text for a in answers if a.status_code != 409]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"no_extension_asked"}
    steps = [s["action"] for s in api.get(f"/api/v1/cases/{cid}", staff).json()["timeline"]]
    assert sum(step in ("grant_extension", "refuse_extension") for step in steps) == 1
    assert run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE object_type = 'case' AND object_id = {} AND action IN "
                   "('case.grant_extension', 'case.refuse_extension')", str(cid)))[0]["n"] == 1


def test_the_dashboard_shows_disposal_and_on_time_rates_and_exports_the_cases(api, community, units):
    import csv
    import io

    staff = community.staff
    _, fixed = awarded_case(api, community)
    _, waiting = awarded_case(api, community, "order.streetlight_broken", grid="G1")
    for cid in (fixed, waiting):
        api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property})
    api.post(f"/api/v1/handler/cases/{fixed}/accept", units.handler)
    dispose(api, units.handler, fixed)
    today = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    period = f"since={today.isoformat()}&until={(today + timedelta(days=30)).isoformat()}"  # fixed today, due soon
    page = api.get(f"/staff/dashboard?{period}", staff).text
    rates = page.split('id="case-rates"')[1].split("</section>")[0]
    assert "<b>50%</b><span>处置率(应办 2 件)" in rates and "<b>50%</b><span>按时率" in rates
    assert "华冠物业" in page.split('id="case-rates"')[1]
    rows = list(csv.DictReader(io.StringIO(api.get(f"/staff/export/cases?{period}&header=codes", staff).text.lstrip("\ufeff"))))
    by_case = {int(r["case"]): r for r in rows}
    assert by_case[fixed]["on_time"] == "1" and by_case[fixed]["state_name"] == "已处置,待复查"
    assert by_case[waiting]["on_time"] == "" and by_case[waiting]["unit"] == "华冠物业"
    assert float(by_case[fixed]["working_hours"]) >= 0


def test_a_case_fixed_before_its_deadline_counts_in_the_period_it_was_fixed(api, community, units):
    """Closed two days before it was due: the default dashboard (the last 30 days), the cases export and the
    communities compared all count it, fixed and on time — and say what they count."""
    import csv
    import io

    staff = community.staff
    _, cid = awarded_case(api, community, "order.streetlight_broken", grid="G1")
    case = api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property}).json()
    assert datetime.fromisoformat(case["deadline"]) > clock.now() + timedelta(hours=20)  # due well after today
    api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler)
    assert dispose(api, units.handler, cid).status_code == 200
    assert api.post(f"/api/v1/staff/cases/{cid}/recheck", staff).status_code == 200
    assert api.post(f"/api/v1/staff/cases/{cid}/conclude", staff, json={"fixed": True}).json()["state"] == "closed"

    page = api.get("/staff/dashboard", staff).text
    rates = page.split('id="case-rates"')[1].split("</section>")[0]
    assert "<b>100%</b><span>处置率(应办 1 件)" in rates and "<b>100%</b><span>按时率" in rates
    assert "本期内处置的案件(不论何时到期)" in page.split('id="rate-definitions"')[1]
    rows = list(csv.DictReader(io.StringIO(api.get("/staff/export/cases?header=codes", staff).text.lstrip("\ufeff"))))
    assert [(int(r["case"]), r["state_name"], r["on_time"]) for r in rows] == [(cid, "已办结", "1")]
    compared = {r["id"]: r for r in api.get("/api/v1/admin/compare", units.admin).json()["rows"]}
    assert compared[community.id]["cases_due"] == 1 and compared[community.id]["disposal_rate"] == 1.0
    assert "处置率:本期应办件" in api.get("/admin/compare", units.admin).text


def test_the_case_board_filters_by_state_unit_and_grid(api, community, units):
    staff = community.staff
    _, in_g1 = awarded_case(api, community, "order.streetlight_broken", grid="G1")
    _, elsewhere = awarded_case(api, community)
    api.post(f"/api/v1/staff/cases/{in_g1}/dispatch", staff, json={"unit": units.gas})
    shown = lambda query: {int(i) for i in re.findall(r'id="case-(\d+)"', api.get(f"/staff/cases/?{query}", staff).text)}  # noqa: E731
    assert shown("grid=G1") == {in_g1}
    assert shown("state=open") == {elsewhere} and shown(f"unit={units.gas}") == {in_g1}
    assert api.get("/staff/cases/?state=nonsense", staff).status_code == 400


def test_admins_add_units_and_handlers_on_their_page(api, community):
    from conftest import PASSWORD, new_phone
    from points.people import members

    phone = new_phone()
    run(members.create_member(community.id, "admin", "管理员", phone, PASSWORD))
    admin = api.user(phone)
    form = {"_csrf_token": admin.csrf}
    none_ticked = api.post("/admin/units", admin, data={**form, "kind": "urban", "name": "城管中队"})
    assert none_ticked.status_code == 400
    assert "请填写必填项" in none_ticked.text.split('id="err-communities"')[1].split("</p>")[0]
    added = api.post("/admin/units", admin, data={**form, "kind": "urban", "name": "城管中队",
                                                  "communities": [str(community.id)]}, follow_redirects=False)
    assert added.status_code == 303 and "done=unit_added" in added.headers["location"]
    unit = run(sql("SELECT id FROM unit WHERE name = '城管中队' ORDER BY id DESC"))[0]["id"]
    handler_phone = new_phone()
    made = api.post("/admin/handlers", admin, data={**form, "unit_id": str(unit), "community_id": str(community.id),
                                                    "name": "赵队员", "phone": handler_phone, "password": PASSWORD},
                    follow_redirects=False)
    assert made.status_code == 303 and "done=handler_added" in made.headers["location"]
    handler = api.user(handler_phone)
    assert api.get("/api/v1/handler/cases", handler).json() == []
    assert api.get("/admin/units", community.staff).status_code == 403
