"""The task pages in Chromium: staff publish an activity from the form and put its code on a screen (a QR code
that opens the task with the code in it); a rider on a phone signs up and checks in through that link, a
wrong code is refused in Chinese, another rider checks in with "I'm here" by the phone's place; the staff
confirm everyone present from the roster and the riders see it."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from taskwork import SHANGHAI, near

from browsing import DESKTOP, PHONE, Screens, as_user, count_uploads, needs_chromium, shown_errors, uploaded
from points import clock

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


def local(minutes: float) -> str:
    """A datetime-local field's value: the scheme's wall clock, `minutes` from now."""
    return (clock.now() + timedelta(minutes=minutes)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


@needs_chromium
def test_an_activity_through_the_pages(stack, api, browser, community, tmp_path):
    url, screens = stack["url"], Screens("tasks")
    staff = as_user(browser, url, community.staff, viewport=DESKTOP)
    staff.goto(f"{url}/staff/tasks/")
    staff.select_option("#kind", "activity")
    staff.fill("#title", "楼道清理志愿活动")
    staff.select_option("#item", "service.volunteer_hour")
    staff.fill("#starts_at", local(-5))
    staff.fill("#ends_at", local(5))  # ends before it starts: refused beside the field
    spot = near()
    staff.fill("#lat", str(spot["lat"]))
    staff.fill("input[name=lng]", str(spot["lng"]))
    staff.fill("#slots", "5")
    staff.fill("#signup_closes_at", local(120))
    staff.fill("#ends_at", local(-10))
    staff.click("form.publish button.primary")
    assert "结束时间必须晚于开始时间" in shown_errors(staff).get("err-ends_at", ""), shown_errors(staff)
    staff.fill("#ends_at", local(180))
    staff.click("form.publish button.primary")
    staff.wait_for_url(re.compile(r"/staff/tasks/\d+\?done=task_published"))
    task_id = int(re.search(r"/staff/tasks/(\d+)", staff.url).group(1))
    assert "任务已发布" in staff.inner_text("main")
    screens.shot(staff, "published")

    staff.goto(f"{url}/staff/tasks/{task_id}/code")
    shown = staff.inner_text(".code").strip()
    assert re.fullmatch(r"\d{6}", shown) and "扫码签到" in staff.inner_text("body")
    screens.shot(staff, "code")
    if shutil.which("zbarimg"):  # the QR code is the task's link with the code in it
        staff.locator(".qr svg").screenshot(path=str(tmp_path / "qr.png"))
        read = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "qr.png")], capture_output=True, text=True)
        assert read.stdout.strip() == f"{url}/tasks/{task_id}?code={shown}", read.stdout + read.stderr

    rider = as_user(browser, url, community.riders[0], viewport=PHONE)
    rider.goto(f"{url}/tasks/")
    assert "楼道清理志愿活动" in rider.inner_text(f"#task-{task_id}")
    rider.click(f"#task-{task_id} a")
    rider.click("form[action$='/signup'] button")
    rider.wait_for_url(re.compile(r"done=task_signup"))
    assert "已报名" in rider.inner_text("main")
    rider.fill("#code", "000000")
    rider.click("#by-code button.primary")
    rider.wait_for_url(re.compile(r"error\.wrong_task_code"))
    assert "不是本任务的签到码" in rider.inner_text("main")
    rider.goto(f"{url}/tasks/{task_id}?code={shown}")  # what the QR code opens
    assert rider.input_value("#code") == shown
    screens.shot(rider, "check-in")
    rider.click("#by-code button.primary")
    rider.wait_for_url(re.compile(r"done=task_checkin"))
    assert "已签到" in rider.inner_text("main") and "签退" in rider.inner_text("main")

    context = browser.new_context(viewport=PHONE, locale="zh-CN", geolocation={"latitude": spot["lat"],
                                                                               "longitude": spot["lng"] + 0.0002},
                                  permissions=["geolocation"])
    context.add_cookies([{"name": "jifen_session", "value": community.riders[1].session, "url": url},
                         {"name": "lang", "value": "zh", "url": url}])
    second = context.new_page()
    second.goto(f"{url}/tasks/{task_id}")
    second.click("form[action$='/signup'] button")
    second.wait_for_url(re.compile(r"done=task_signup"))
    second.click("#by-place button")
    second.wait_for_url(re.compile(r"done=task_checkin"))
    assert "已签到" in second.inner_text("main")

    # A resident with no signal shows the pass code on their phone; staff type it on the roster
    resident = as_user(browser, url, community.residents[0], viewport=PHONE, javascript=False)
    resident.goto(f"{url}/tasks/{task_id}")
    resident.click("form[action$='/signup'] button")
    resident.click("details.pass summary")
    pass_code = resident.inner_text("details.pass .code").strip()
    staff.goto(f"{url}/staff/tasks/{task_id}")
    staff.fill("#pass", pass_code)
    staff.click("#by-pass button")
    staff.wait_for_url(re.compile(r"done=task_attend"))
    roster = staff.inner_text("table")
    assert roster.count("已签到") == 3 and "签到码" in roster and "定位" in roster and "工作人员" in roster
    screens.shot(staff, "roster")
    # Still running: one tap would count those present 0 hours. The page says so, and the button it offers
    # counts them to the planned end (three hours from the start, two of them whole ones from now).
    assert "现在确认,未签退的成员按计划结束时间计时" in staff.inner_text("#confirm-all")
    plain = api.post(f"/api/v1/staff/tasks/{task_id}/confirm", community.staff, json={})
    assert plain.status_code == 409 and plain.json()["error"]["code"] == "before_the_end", plain.text
    staff.click("#confirm-all button.big")
    staff.wait_for_url(re.compile(r"done=task_confirm"))
    assert staff.inner_text("table").count("已确认") == 3
    rider.goto(f"{url}/tasks/")
    assert "已确认" in rider.inner_text(f"#task-{task_id}")
    rider.goto(f"{url}/tasks/{task_id}")
    assert "已确认:计 2 小时" in rider.inner_text("main")


@needs_chromium
def test_a_checkpoint_photo_is_made_small_on_the_phone(stack, api, browser, community, tmp_path):
    """A patrol's camera photo leaves the phone at most 1600 px wide with its time and place, after a preview."""
    from taskwork import publish

    from harness import run
    from points.infra.db import sql

    spot = near(metres_north=30)
    task = publish(api, community.staff, kind="patrol", title="检查灭火器", item="service.patrol_task", slots=1,
                   radius_m=100, checkpoints=[{"name": "1号楼灭火器", "what": "压力表在绿区", **spot}])
    rider = community.riders[0]
    assert api.post(f"/api/v1/tasks/{task['id']}/signup", rider).status_code == 200
    taken = (clock.now().astimezone(SHANGHAI)).strftime("%Y:%m:%d %H:%M:%S")
    big = tmp_path / "camera.jpg"
    from makers import photo
    big.write_bytes(photo(4000, 3000, gps=(spot["lat"], spot["lng"]), taken=taken))
    url = stack["url"]
    context = browser.new_context(viewport=PHONE, locale="zh-CN", permissions=["geolocation"],
                                  geolocation={"latitude": spot["lat"], "longitude": spot["lng"]})
    context.add_cookies([{"name": "jifen_session", "value": rider.session, "url": url},
                         {"name": "lang", "value": "zh", "url": url}])
    page = context.new_page()
    count_uploads(page)
    page.goto(f"{url}/tasks/{task['id']}")
    checkpoint = task["checkpoints"][0]["id"]
    page.set_input_files(f"#photo-{checkpoint}", str(big))
    page.wait_for_selector(f"#checkpoint-{checkpoint} .previews img")
    page.click(f"#checkpoint-{checkpoint} button")
    page.wait_for_url(re.compile(r"done="))
    assert 10_000 < uploaded(page) < 300_000  # a 3.2 MB camera photo sent as under 300 KB: under 6 s at 400 kbit/s
    kept = run(sql("SELECT width, height FROM task_photo"))
    assert kept and max(kept[-1]["width"], kept[-1]["height"]) <= 1600
    context.close()
