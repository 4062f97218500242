"""Tasks through the API, on both legs: an activity from publishing to points (a rush for the slots, check-in by
code and by place, check-out, confirmation, the award job run again and again); a patrol's checkpoints; the
rotating code; no-shows and their appeals; scope, caps and overlaps. Every window is set around the pinned
clock, and "later" is a server whose clock runs hours ahead on the same storage."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from taskwork import SHANGHAI, at, code, near, people, publish, shot_here, tomorrow_at

from casework import awarded_case, make_units
from conftest import clock_moved, grant, python, run
from makers import photo
from points.infra.config import settings
from points.infra.db import sql
from points.infra.photo_store import photo_store
from points.reports import intake

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


@pytest.fixture
def units(api, make_community, community):
    return make_units(api, make_community, community)


def signups_of(task_id: int) -> dict[int, dict]:
    return {r["member"]: r for r in run(sql("SELECT * FROM task_signup WHERE task = {}", task_id))}


def transfers(key_like: str) -> list[dict]:
    return run(sql("SELECT idempotency_key, amount FROM transfer WHERE idempotency_key LIKE {}", key_like))


def test_an_activity_from_publishing_to_points_exactly_once(api, community):
    staff = community.staff
    task = publish(api, staff, slots=20)
    assert (task["units"], task["points"], task["taken"]) == (2, 20, 0)  # 3 h, counted at most 2 h (max_units)
    crowd = people(api, community.id, 30)
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda m: api.post(f"/api/v1/tasks/{task['id']}/signup", m), crowd))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 20 + [409] * 10, [a.text for a in answers if a.status_code not in (200, 409)]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"task_full"}
    assert api.get(f"/api/v1/tasks/{task['id']}", staff).json()["taken"] == 20
    inside = [m for m, a in zip(crowd, answers, strict=True) if a.status_code == 200]

    by_code, by_place = inside[:10], inside[10:]
    site = code(api, staff, task["id"])
    for m in by_code:
        done = api.post(f"/api/v1/tasks/{task['id']}/checkin", m, json={"code": site})
        assert done.status_code == 200 and done.json()["state"] == "checked_in", done.text
    far = api.post(f"/api/v1/tasks/{task['id']}/checkin", by_place[0], json=near(metres_north=400))
    assert far.status_code == 400 and far.json()["error"]["code"] == "too_far"
    assert 295 <= far.json()["error"]["metres"] <= 305  # 400 m away, 100 m radius: "outside by 300 m"
    page = api.post(f"/tasks/{task['id']}/checkin", by_place[0], data={
        **{k: str(v) for k, v in near(metres_north=400).items()}, "_csrf_token": by_place[0].csrf})
    assert page.status_code == 303, page.text
    shown = api.get(page.headers["location"], by_place[0]).text  # the page says it with the distance
    assert re.search(r"您不在任务地点:超出范围 (29[5-9]|30[0-5]) 米。", shown) and "{metres}" not in shown, shown[-1500:]
    for m in by_place:
        done = api.post(f"/api/v1/tasks/{task['id']}/checkin", m, json=near(metres_east=30))
        assert done.status_code == 200 and done.json()["checked_in_by"] == "location", done.text

    # Two hours and ten minutes later: out by the code then shown; the staff confirm everyone present.
    with clock_moved(2 + 1 / 6):
        staff_later = api.user(staff.phone)  # staff sessions end after their idle time: signed in again
        site = code(api, staff_later, task["id"])
        for m in inside:
            out = api.post(f"/api/v1/tasks/{task['id']}/checkout", m, json={"code": site})
            assert out.status_code == 200 and out.json()["state"] == "checked_out", out.text
        confirmed = api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff_later, json={})
        assert confirmed.status_code == 200 and confirmed.json()["confirmed"] == 20, confirmed.text
        again = api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff_later, json={})
        assert again.json() == {"confirmed": 0, "reports": []}
    reports = confirmed.json()["reports"]
    filed = {m: s["submission"] for m, s in signups_of(task["id"]).items()}
    assert sorted(filed.values()) == sorted(reports)
    # The award job went with the server that confirmed (embedded: its in-process worker may never have run it;
    # production: a worker.py took it): the sweep finds what is left, and running it again changes nothing.
    for _ in range(3):
        assert python("-m", "points", "sweep").returncode == 0
    for m in inside:
        awarded = api.wait_awarded(m, filed[m.id])
        assert (awarded["units"], awarded["points"]) == (2, 20)
    for m in inside:
        assert api.balance(m)["spendable"] == 20
        mine = api.get("/api/v1/tasks/mine", m).json()
        assert mine[0]["my_signup"]["state"] == "confirmed" and mine[0]["my_signup"]["units"] == 2
    keys = {t["idempotency_key"] for t in transfers("award:submission:%")}
    assert all({f"award:submission:{sid}", f"award:submission:{sid}:lifetime"} <= keys for sid in reports)
    refs = {f"submission:{sid}" for sid in reports}
    assert sum(t["ref"] in refs for t in run(sql("SELECT ref FROM transfer"))) == 40  # 20 awards, 2 sides, once
    history = api.get("/api/v1/me/history", inside[0]).json()
    assert any("社区志愿服务" in (h.get("words") or h.get("reason", "")) for h in history), history


def test_a_patrol_needs_a_photo_at_each_checkpoint_taken_there_and_then(api, community):
    staff, rider = community.staff, community.riders[0]
    points = [near(metres_north=150 * n) for n in range(10)]
    task = publish(api, staff, kind="patrol", title="检查10处灭火器", item="service.patrol_task", slots=1, radius_m=50,
                   checkpoints=[{"name": f"{n + 1}号楼灭火器", "what": "压力表在绿区", **p} for n, p in enumerate(points)])
    assert [c["position"] for c in task["checkpoints"]] == list(range(1, 11))
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    taken = api.post(f"/api/v1/tasks/{task['id']}/signup", community.riders[1])
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "task_full"  # one taker

    def send(cp: dict, image: bytes, **form):
        return api.post(f"/api/v1/tasks/{task['id']}/checkpoints/{cp['id']}/photo", rider,
                        files={"photo": ("cp.jpg", image, "image/jpeg"), **{k: (None, str(v)) for k, v in form.items()}})

    first = task["checkpoints"][0]
    far = send(first, shot_here(near(metres_north=-200)))
    assert far.status_code == 400 and far.json()["error"]["code"] == "too_far" and far.json()["error"]["metres"] >= 140
    stale = send(first, shot_here(points[0], minutes=-24 * 60))
    assert stale.status_code == 400 and stale.json()["error"]["code"] == "photo_outside_window"
    assert signups_of(task["id"])[rider.id]["state"] == "signed_up"  # refused photos leave no trace
    for n, cp in enumerate(task["checkpoints"]):
        done = send(cp, shot_here(points[n]))
        assert done.status_code == 200, done.text
    assert done.json()["state"] == "checked_out" and len(done.json()["checkpoints_done"]) == 10
    run(intake.sweep_orphan_photos(photo_store(settings()), grace_seconds=-60))  # the photos are kept
    roster = api.get(f"/api/v1/staff/tasks/{task['id']}/roster", staff).json()
    photo_id = roster[0]["photos"][0]["id"]
    assert api.get(f"/api/v1/tasks/{task['id']}/photos/{photo_id}", staff).status_code == 200
    assert api.get(f"/api/v1/tasks/{task['id']}/photos/{photo_id}", community.riders[1]).status_code == 404

    confirmed = api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff, json={"members": [rider.id]})
    assert confirmed.status_code == 200 and len(confirmed.json()["reports"]) == 1, confirmed.text
    assert api.wait_awarded(rider, confirmed.json()["reports"][0])["points"] == 20
    assert api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff, json={"members": [rider.id]}).status_code == 409
    assert api.balance(rider)["spendable"] == 20


def test_the_site_code_turns_and_belongs_to_its_task(api, community, make_community):
    staff, rider = community.staff, community.riders[0]
    task = publish(api, staff)
    other_task = publish(api, staff, title="另一场活动", starts_at=at(200), ends_at=at(260), signup_closes_at=at(190))
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    wrong = api.post(f"/api/v1/tasks/{task['id']}/checkin", rider, json={"code": code(api, staff, other_task["id"])})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "wrong_task_code"
    old = code(api, staff, task["id"])
    with clock_moved(5 / 60):
        expired = api.post(f"/api/v1/tasks/{task['id']}/checkin", rider, json={"code": old})
        assert expired.status_code == 400 and expired.json()["error"]["code"] == "code_expired"
    assert api.get(f"/api/v1/staff/tasks/{task['id']}/code", rider).status_code == 403
    elsewhere = make_community().staff
    assert api.get(f"/api/v1/staff/tasks/{task['id']}/code", elsewhere).status_code == 404
    assert api.post(f"/api/v1/tasks/{task['id']}/checkin", rider, json={"code": "12ab"}).json()["error"]["field"] == "code"
    soon = publish(api, staff, title="晚上的活动", starts_at=at(300), ends_at=at(360), signup_closes_at=at(290))
    assert api.post(f"/api/v1/tasks/{soon['id']}/signup", rider).status_code == 200
    early = api.post(f"/api/v1/tasks/{soon['id']}/checkin", rider, json={"code": code(api, staff, soon["id"])})
    assert early.status_code == 409 and early.json()["error"]["code"] == "too_early" and early.json()["error"]["opens"]
    assert signups_of(soon["id"])[rider.id]["state"] == "signed_up"
    not_yet = api.post(f"/api/v1/staff/tasks/{soon['id']}/attend", staff, json={"member": rider.id})
    assert not_yet.status_code == 409 and not_yet.json()["error"]["code"] == "too_early"

    # No signal: the member shows their pass code, staff check them in with it (another member's is wrong)
    other = community.riders[1]
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", other).status_code == 200
    pass_code = api.get(f"/api/v1/tasks/{task['id']}", other).json()["my_signup"]["pass_code"]
    assert re.fullmatch(r"\d{6}", pass_code)
    mine = api.get(f"/api/v1/tasks/{task['id']}", rider).json()["my_signup"]["pass_code"]
    assert api.post(f"/api/v1/tasks/{other_task['id']}/signup", other).status_code == 200
    elsewhere = api.get(f"/api/v1/tasks/{other_task['id']}", other).json()["my_signup"]["pass_code"]
    wrong = api.post(f"/api/v1/staff/tasks/{task['id']}/attend", staff, json={"code": elsewhere})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "wrong_pass_code"  # another task's
    both = api.post(f"/api/v1/staff/tasks/{task['id']}/attend", staff, json={"code": pass_code, "member": other.id})
    assert both.status_code == 400 and both.json()["error"]["field"] == "member"
    marked = api.post(f"/api/v1/staff/tasks/{task['id']}/attend", staff, json={"code": pass_code})
    assert marked.status_code == 200 and marked.json()["member_id"] == other.id and mine != pass_code
    assert signups_of(task["id"])[other.id]["checked_in_by"] == "staff"


def sweep_at(hours: float):
    """The operator's sweep command, run `hours` from now (every process's clock moved, then back)."""
    with clock_moved(hours):
        return python("-m", "points", "sweep")


def test_a_no_show_is_penalised_once_and_a_granted_appeal_gives_it_back(api, community):
    staff, paid, broke = community.staff, community.riders[0], community.riders[1]
    grant(community.id, paid.id, 50)
    task = publish(api, staff, starts_at=at(-5), ends_at=at(30), signup_closes_at=at(20))
    for m in (paid, broke):
        assert api.post(f"/api/v1/tasks/{task['id']}/signup", m).status_code == 200
    for _ in range(3):
        swept = sweep_at(2)
        assert swept.returncode == 0, swept.stderr[-2000:]
    assert {m: s["state"] for m, s in signups_of(task["id"]).items()} == {paid.id: "no_show", broke.id: "no_show"}
    assert api.balance(paid)["spendable"] == 40
    assert api.balance(broke) == {"spendable": 0, "lifetime": 0, "debt": 10}  # owed
    assert len(transfers(f"noshow:task:{task['id']}:%")) == 2
    assert "记为缺席,已扣分" in api.get("/", paid).text  # told on the next visit

    for m in (paid, broke):
        appealed = api.post(f"/api/v1/tasks/{task['id']}/appeal", m, json={"reason": "送单超时,赶不过去"})
        assert appealed.status_code == 200 and appealed.json()["appeal_state"] == "pending", appealed.text
    twice = api.post(f"/api/v1/tasks/{task['id']}/appeal", paid, json={"reason": "再说一次"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "appealed_already"
    granted = api.post(f"/api/v1/staff/tasks/{task['id']}/appeals/{paid.id}", staff, json={"grant": True})
    assert granted.status_code == 200 and granted.json()["returned"] == 10, granted.text
    assert api.post(f"/api/v1/staff/tasks/{task['id']}/appeals/{paid.id}", staff,
                    json={"grant": True}).status_code == 409  # once
    assert api.balance(paid)["spendable"] == 50
    assert "缺席申诉成立,扣分已退回" in api.get("/", paid).text
    forgiven = api.post(f"/api/v1/staff/tasks/{task['id']}/appeals/{broke.id}", staff, json={"grant": True})
    assert forgiven.json()["returned"] == 10 and api.balance(broke)["debt"] == 0
    history = api.get("/api/v1/me/history", paid).json()
    words = [h["reason"] for h in history]
    assert any("退回扣分" in w for w in words) and any("无故缺席" in w for w in words), words
    page = api.get("/points", paid).text  # the history in plain words
    assert "退回扣分:报名活动/任务无故缺席" in page and "扣分:报名活动/任务无故缺席" in page
    assert sweep_at(3).returncode == 0  # excused stays excused
    assert signups_of(task["id"])[paid.id]["state"] == "excused"


def test_another_communitys_task_is_not_there_and_only_active_members_sign_up(api, community, make_community):
    task = publish(api, community.staff)
    outsider = make_community().riders[0]
    for path in ("", "/signup", "/cancel"):
        call = api.get if not path else api.post
        assert call(f"/api/v1/tasks/{task['id']}{path}", outsider).status_code == 404
    assert api.post(f"/api/v1/tasks/{task['id']}/checkin", outsider, json=near()).status_code == 404
    assert signups_of(task["id"]) == {}
    other_staff = make_community().staff
    for path in ("/roster", "/code"):
        assert api.get(f"/api/v1/staff/tasks/{task['id']}{path}", other_staff).status_code == 404
        assert api.get(f"/api/v1/staff/tasks/{task['id']}{path}", community.riders[0]).status_code == 403
    assert api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", other_staff, json={}).status_code == 404
    assert api.post("/api/v1/staff/tasks", community.riders[0], json={}).status_code == 403
    pending = people(api, community.id, 1)[0]
    run(sql("UPDATE member SET status = 'pending' WHERE id = {}", pending.id))
    refused = api.post(f"/api/v1/tasks/{task['id']}/signup", pending)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "member_pending"
    page = api.get(f"/tasks/{task['id']}", pending).text  # told why, not offered a button that refuses
    assert "您的注册正在等待社区审核。" in page and f'action="/tasks/{task["id"]}/signup"' not in page
    assert signups_of(task["id"]) == {}


def test_overlaps_caps_and_cancelling(api, community):
    staff, rider = community.staff, community.riders[0]
    day = tomorrow_at(8)  # every task below on one local day, from 08:00 to 15:20
    first = publish(api, staff, starts_at=at(day), ends_at=at(day + 120), signup_closes_at=at(50))
    clash = publish(api, staff, title="同时段", starts_at=at(day + 60), ends_at=at(day + 180), signup_closes_at=at(50))
    assert api.post(f"/api/v1/tasks/{first['id']}/signup", rider).status_code == 200
    overlapping = api.post(f"/api/v1/tasks/{clash['id']}/signup", rider)
    assert overlapping.status_code == 409 and overlapping.json()["error"]["code"] == "overlapping_task"
    second = publish(api, staff, title="下午场", starts_at=at(day + 190), ends_at=at(day + 310), signup_closes_at=at(50))
    third = publish(api, staff, title="晚场", starts_at=at(day + 320), ends_at=at(day + 440), signup_closes_at=at(50))
    assert api.post(f"/api/v1/tasks/{second['id']}/signup", rider).status_code == 200
    capped = api.post(f"/api/v1/tasks/{third['id']}/signup", rider)  # 2 + 2 h promised: the daily cap is 4 h
    assert capped.status_code == 409, capped.text
    assert capped.json()["error"]["code"] == "task_cap_reached" and capped.json()["error"]["cap"] == 4
    cancelled = api.post(f"/api/v1/tasks/{first['id']}/cancel", rider)
    assert cancelled.status_code == 200 and cancelled.json()["my_state"] == "cancelled"
    assert api.post(f"/api/v1/tasks/{clash['id']}/signup", rider).status_code == 200  # the overlap is gone
    mine = {t["id"]: t["my_state"] for t in api.get("/api/v1/tasks/mine", rider).json()}
    assert mine[clash["id"]] == mine[second["id"]] == "signed_up" and first["id"] not in mine


def test_an_item_checked_automatically_confirms_itself(api, community):
    rider = community.riders[0]
    task = publish(api, community.staff, title="安全微课堂", item="service.training_course", starts_at=at(-10),
                   ends_at=at(50), signup_closes_at=at(40))
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    assert api.post(f"/api/v1/tasks/{task['id']}/checkin", rider, json=near()).status_code == 200
    out = api.post(f"/api/v1/tasks/{task['id']}/checkout", rider, json=near())
    assert out.status_code == 200 and out.json()["confirmed"] is True
    sid = signups_of(task["id"])[rider.id]["submission"]
    assert api.wait_awarded(rider, sid)["points"] == 10


def test_members_near_a_fixed_problem_can_recheck_it(api, community, units):
    staff, rider = community.staff, community.riders[1]
    sid, cid = awarded_case(api, community)
    assert api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property}).status_code == 200
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler).status_code == 200
    disposed = api.post(f"/api/v1/handler/cases/{cid}/dispose", units.handler,
                        files=[("note", (None, "已清理")), ("photos", ("a.jpg", photo(), "image/jpeg"))])
    assert disposed.status_code == 200, disposed.text
    report = api.get(f"/api/v1/cases/{cid}", staff).json()["report"]
    task = publish(api, staff, kind="recheck", title="复查:消防通道是否清理", item="service.patrol_task", case=cid,
                   slots=1, lat=None, lng=None)
    assert task["case_id"] == cid and len(task["checkpoints"]) == 1
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    spot = {"lat": report["lat"], "lng": report["lng"]}
    done = api.post(f"/api/v1/tasks/{task['id']}/checkpoints/{task['checkpoints'][0]['id']}/photo", rider,
                    files={"photo": ("r.jpg", shot_here(spot), "image/jpeg")})
    assert done.status_code == 200 and done.json()["state"] == "checked_out", done.text
    confirmed = api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff, json={})
    assert api.wait_awarded(rider, confirmed.json()["reports"][0])["points"] == 20
    assert sid not in confirmed.json()["reports"]


def test_staff_correct_a_confirmation_and_the_points_follow(api, community):
    """Confirmed at 2 hours, the member left after 1: staff correct it with why, the first award is reversed and
    one for 1 hour given; the same correction again changes nothing; what cannot be is refused naming the field."""
    staff, rider = community.staff, community.residents[0]
    task = publish(api, staff)  # running now for three hours, counted by the hour (at most 2)
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    assert api.post(f"/api/v1/tasks/{task['id']}/checkin", rider, json=near()).status_code == 200
    confirmed = api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff, json={"until_end": True}).json()
    first = api.wait_awarded(rider, confirmed["reports"][0])
    assert first["units"] == 2
    per_hour = first["points"] // 2
    body = {"member": rider.id, "hours": 1, "note": "提前一小时离开"}
    for bad, field in (({**body, "hours": 3}, "hours"), ({**body, "note": ""}, "note"), ({**body, "hours": -1}, "hours")):
        refused = api.post(f"/api/v1/staff/tasks/{task['id']}/correct", staff, json=bad)
        assert refused.status_code == 400 and refused.json()["error"]["field"] == field, refused.text
    corrected = api.post(f"/api/v1/staff/tasks/{task['id']}/correct", staff, json=body)
    assert corrected.status_code == 200 and corrected.json()["units"] == 1, corrected.text
    assert api.wait_awarded(rider, corrected.json()["reports"][0])["points"] == per_hour
    assert api.submission(rider, first["id"])["status"] == "reversed"
    assert api.balance(rider)["spendable"] == per_hour
    again = api.post(f"/api/v1/staff/tasks/{task['id']}/correct", staff, json=body)
    assert again.status_code == 200 and again.json()["reports"] == []
    assert api.balance(rider)["spendable"] == per_hour
    roster = {r["member_id"]: r for r in api.get(f"/api/v1/staff/tasks/{task['id']}/roster", staff).json()}
    assert roster[rider.id]["units"] == 1


def test_the_dashboard_counts_tasks_per_item_and_month(api, community):
    staff, there, away = community.staff, community.riders[0], community.residents[0]
    task = publish(api, staff, starts_at=at(-5), ends_at=at(30), signup_closes_at=at(20))
    for m in (there, away):
        assert api.post(f"/api/v1/tasks/{task['id']}/signup", m).status_code == 200
    assert api.post(f"/api/v1/tasks/{task['id']}/checkin", there, json=near()).status_code == 200
    early = api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff, json={})  # still running: staff choose
    assert early.status_code == 409 and early.json()["error"]["code"] == "before_the_end", early.text
    assert api.post(f"/api/v1/staff/tasks/{task['id']}/confirm", staff,
                    json={"until_end": True}).json()["confirmed"] == 1
    assert sweep_at(1).returncode == 0  # the other one: a no-show
    page = api.get("/staff/dashboard", staff).text
    assert "任务:参与情况" in page and "社区志愿服务" in page and "50%" in page.split('id="task-figures"')[1]
    rows = list(csv.reader(io.StringIO(api.get("/staff/export/tasks?header=codes", staff).text.lstrip("\ufeff"))))
    assert rows[0] == ["month", "item", "item_name", "tasks", "signups", "present", "no_shows", "attendance", "hours"]
    assert rows[1][1:] == ["service.volunteer_hour", "社区志愿服务(按小时,每次最多计2小时)", "1", "2", "1", "1", "0.5",
                           "0"], rows  # present under an hour: no hours given


def test_a_task_called_off_takes_no_one_and_counts_no_one_absent(api, community):
    staff, rider = community.staff, community.riders[0]
    task = publish(api, staff, starts_at=at(-5), ends_at=at(30), signup_closes_at=at(20))
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    bare = api.post(f"/api/v1/staff/tasks/{task['id']}/cancel", staff, json={"note": ""})
    assert bare.status_code == 400 and bare.json()["error"]["field"] == "note"
    off = api.post(f"/api/v1/staff/tasks/{task['id']}/cancel", staff, json={"note": "台风预警,活动取消"})
    assert off.status_code == 200 and off.json()["status"] == "cancelled"
    assert off.json()["description"].startswith("台风预警")
    late = api.post(f"/api/v1/tasks/{task['id']}/signup", community.riders[1])
    assert late.status_code == 409 and late.json()["error"]["code"] == "task_cancelled"
    refused = api.post(f"/api/v1/tasks/{task['id']}/checkin", rider, json=near())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "task_cancelled"
    assert task["id"] not in [t["id"] for t in api.get("/api/v1/tasks", rider).json()]
    # Its time is the rider's again: another activity then can be signed up for (the access matrix found this).
    instead = publish(api, staff, title="改在室内", starts_at=at(20), ends_at=at(300), signup_closes_at=at(10))
    taken = api.post(f"/api/v1/tasks/{instead['id']}/signup", rider)
    assert taken.status_code == 200 and taken.json()["my_signup"]["state"] == "signed_up", taken.text
    assert sweep_at(2).returncode == 0
    assert signups_of(task["id"])[rider.id]["state"] == "signed_up" and api.balance(rider)["debt"] == 0
    assert "该任务已取消" in api.get(f"/tasks/{task['id']}", rider).text
    assert "活动已取消" in api.get("/", rider).text


def test_times_no_one_can_mean_are_refused_naming_the_field(api, community):
    """A sign-up closing in year 1, a task ending in 9999: 400 naming each field, nothing published."""
    body = {"kind": "activity", "title": "周末清理楼道杂物", "item": "service.volunteer_hour", "starts_at": at(60),
            "ends_at": at(180), "slots": 20, "place": "华冠社区广场", **near(), "radius_m": 100}
    for field, value in (("signup_closes_at", "0001-01-01T00:00:00Z"), ("ends_at", "9999-12-31T23:59:59-12:00"),
                         ("starts_at", "0001-01-01T08:00:00+08:00")):
        refused = api.post("/api/v1/staff/tasks", community.staff, json={**body, field: value})
        assert refused.status_code == 400, (field, refused.text)
        assert field in [p["field"] for p in refused.json()["error"].get("problems", [refused.json()["error"]])]
    assert api.get("/api/v1/staff/tasks", community.staff).json() == []


def test_guessing_site_codes_does_not_pay(api, community):
    """Ten wrong codes for a task, then the member waits — told how long, on the API and the page — and no code
    is checked meanwhile, the right one neither; a right code never counts against anyone; others check in."""
    staff, rider, resident = community.staff, community.riders[0], community.residents[0]
    task = publish(api, staff)
    for member in (rider, resident):
        assert api.post(f"/api/v1/tasks/{task['id']}/signup", member).status_code == 200
    url = f"/api/v1/tasks/{task['id']}/checkin"
    for guess in range(10):
        wrong = api.post(url, rider, json={"code": f"{guess:06d}"})
        assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "code", wrong.text
    held = api.post(url, rider, json={"code": code(api, staff, task["id"])})
    assert held.status_code == 429 and held.json()["error"]["field"] == "code", held.text
    assert 0 < held.json()["error"]["retry_after"] <= 600 and "try again in" in held.json()["error"]["message"]
    sent = api.post(f"/tasks/{task['id']}/checkin", rider, data={"code": "000000", "_csrf_token": rider.csrf})
    assert sent.status_code == 303, sent.text
    page = api.get(sent.headers["location"], rider)
    assert re.search(r"操作过于频繁,请 \d+ 秒后再试", page.text), page.text[-2000:]
    assert api.post(url, resident, json={"code": code(api, staff, task["id"])}).status_code == 200


def test_a_task_over_several_days_shows_both_dates(api, community):
    """A 72-hour patrol window, read on the task list and the task's page: the end's date is shown, not only its
    time (which would read as ending that morning); a task within a day shows the end's time alone."""
    staff, rider = community.staff, community.riders[0]
    long = publish(api, staff, title="三天巡查", starts_at=at(30), ends_at=at(30 + 72 * 60), signup_closes_at=at(20))
    short = publish(api, staff, title="一小时活动", starts_at=at(tomorrow_at(9)), ends_at=at(tomorrow_at(10)),
                    signup_closes_at=at(20))

    def shown(task: dict) -> str:
        start, end = (datetime.fromisoformat(task[k]).astimezone(SHANGHAI) for k in ("starts_at", "ends_at"))
        ends = end.strftime("%H:%M") if start.date() == end.date() else end.strftime("%m-%d %H:%M")
        return f"{start.strftime('%m-%d %H:%M')}–{ends}"

    assert shown(long).count("-") == 2 and shown(short).count("-") == 1  # what the rule is about
    listing = api.get("/tasks", rider).text
    assert shown(long) in listing and shown(short) in listing, listing[-2000:]
    assert shown(long) in api.get(f"/tasks/{long['id']}", rider).text
    assert shown(long) in api.get(f"/staff/tasks/{long['id']}", staff).text
