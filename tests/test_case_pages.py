"""The case pages in Chromium: staff dispatch a verified report's case from its page (the item's kind of unit
preselected), the handler — on a phone, without JavaScript — accepts it and sends a photo of the fix, staff
recheck it on the case's page with the report's photo beside the fix's and close it with their own photo, and
the rider sees it closed among their reports. A case a unit returned shows why, and is not offered back to
that unit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from browsing import DESKTOP, PHONE, Screens, as_user, count_uploads, needs_chromium, uploaded
from casework import awarded_case, make_units
from conftest import photo


@needs_chromium
def test_a_case_through_the_pages(stack, api, browser, make_community, community, tmp_path):
    units = make_units(api, make_community, community)
    sid, cid = awarded_case(api, community)
    url, screens = stack["url"], Screens("cases")

    staff = as_user(browser, url, community.staff, viewport=DESKTOP)
    staff.goto(f"{url}/staff/submissions/{sid}")
    assert "待交办" in staff.inner_text("#case")
    assert staff.eval_on_selector("#case select[name=unit]", "s => s.options[s.selectedIndex].text") == "华冠物业"  # the item's kind
    screens.shot(staff, "dispatch")
    staff.click("#case button.primary")
    staff.wait_for_url(re.compile(r"/staff/cases/\?done=case_dispatch"))
    assert "已交办" in staff.inner_text(f"#case-{cid}") and "华冠物业" in staff.inner_text(f"#case-{cid}")

    after = tmp_path / "after.jpg"
    after.write_bytes(photo(1200, 900))
    handler = as_user(browser, url, units.handler, viewport=PHONE, javascript=False)
    handler.goto(f"{url}/")
    handler.wait_for_url(re.compile(r"/handler/"))
    card = handler.inner_text(f"#case-{cid}")
    assert "消防通道" in card and "处置时限" in card and "楼道堵了" in card  # what and where, never who
    assert community.riders[0].phone not in handler.content()
    handler.click(f"form[action='/handler/cases/{cid}/accept'] button")
    handler.wait_for_url(re.compile(r"done=case_accept"))
    # 延期: the handler asks for one more day; staff grant it on the board
    due = datetime.fromisoformat(api.get(f"/api/v1/cases/{cid}", community.staff).json()["deadline"])
    wanted = (due.astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date()
    handler.click(f"#case-{cid} details summary")
    handler.fill(f"#until-{cid}", wanted.isoformat())
    handler.fill(f"#why-more-{cid}", "需要协调业主搬走杂物")
    handler.click(f"form[action='/handler/cases/{cid}/extension'] button")
    handler.wait_for_url(re.compile(r"done=case_extension"))
    staff.goto(f"{url}/staff/cases/")
    assert "申请延期" in staff.inner_text(f"#case-{cid}")
    staff.click(f"#case-{cid} a[href='/staff/cases/{cid}']")
    assert "需要协调业主搬走杂物" in staff.inner_text("#extension")
    staff.click("#extension form[action$='/grant'] button")
    staff.wait_for_url(re.compile(rf"/staff/cases/{cid}\?done=case_grant"))
    moved = datetime.fromisoformat(api.get(f"/api/v1/cases/{cid}", community.staff).json()["deadline"])
    assert moved.astimezone(ZoneInfo("Asia/Shanghai")).date() == wanted
    handler.goto(f"{url}/handler/")
    handler.set_input_files(f"#after-{cid}", str(after))
    handler.fill(f"#note-{cid}", "纸箱已清走")
    screens.shot(handler, "handler")
    handler.click(f"form[action='/handler/cases/{cid}/dispose'] button")
    handler.wait_for_url(re.compile(r"done=case_dispose"))
    assert "已提交处置结果" in handler.inner_text(".flash")

    # 复查: the board sends staff to the case, where the report's photo and the fix's stand side by side
    staff.goto(f"{url}/staff/cases/")
    staff.click(f"#case-{cid} a:has-text('复查')")
    staff.wait_for_url(re.compile(rf"/staff/cases/{cid}$"))
    assert staff.query_selector("#before img") and staff.query_selector("#after img")
    assert "纸箱已清走" in staff.inner_text("#fix-note") and "华冠物业" in staff.inner_text("#fix-note")
    assert "需要协调业主搬走杂物" in staff.inner_text("#timeline")  # every reason on the timeline
    staff.click("text=开始复查")
    staff.wait_for_url(re.compile(r"done=case_recheck"))
    checked = tmp_path / "recheck.jpg"
    checked.write_bytes(photo(1000, 750))
    staff.set_input_files("#close-photo", str(checked))
    staff.fill("#close-note", "现场已畅通")
    screens.shot(staff, "recheck")
    staff.click("#recheck form[action$='/close'] button")
    staff.wait_for_url(re.compile(rf"/staff/cases/{cid}\?done=case_close"))
    assert "已办结" in staff.inner_text("h1")
    closing = staff.inner_text("#timeline li:last-child")
    assert "复查通过,已办结" in closing and "现场已畅通" in closing
    assert staff.query_selector("#timeline li:last-child img")  # the checker's own photo, kept with the finding

    rider = as_user(browser, url, community.riders[0])
    rider.goto(f"{url}/")
    news = rider.inner_text("section[aria-labelledby=news]")
    assert "已交办给 华冠物业 处理" in news and "问题已办结" in news  # 件件有回音: every step comes back
    rider.goto(f"{url}/submissions")
    assert rider.inner_text(f"#case-of-{sid}") == "已办结"
    steps = rider.inner_text(f"#steps-{sid}")
    assert "已交办 · 华冠物业" in steps and "复查通过,已办结" in steps
    assert rider.query_selector(f"#steps-{sid} img")  # the photo of the fix
    rider.check(f"#rate-{sid} input[name=stars][value='2']")  # 回访: not satisfied
    rider.fill(f"#rate-{sid} input[name=comment]", "过两天又堆上了")
    rider.click(f"#rate-{sid} button")
    rider.wait_for_url(re.compile(r"done=case_rated"))
    assert "谢谢您的评价" in rider.inner_text(".flash") and rider.query_selector(f"#rate-{sid}") is None
    flagged = api.get("/api/v1/staff/cases?needs_look=true", community.staff).json()
    assert [(c["id"], c["rating"]) for c in flagged] == [(cid, 2)]
    for page in (staff, handler, rider):
        page.context.close()


def dispatched_case(api, make_community, community):
    """The units, and a case of the community handed to the property company."""
    units = make_units(api, make_community, community)
    _, cid = awarded_case(api, community)
    assert api.post(f"/api/v1/staff/cases/{cid}/dispatch", community.staff,
                    json={"unit": units.property}).status_code == 200
    return units, cid


@needs_chromium
def test_a_returned_case_shows_why_and_is_not_offered_back(stack, api, browser, make_community, community):
    units, cid = dispatched_case(api, make_community, community)
    returned = api.post(f"/api/v1/handler/cases/{cid}/return", units.handler, json={"note": "是燃气管道的问题"})
    assert returned.status_code == 200, returned.text
    url = stack["url"]

    staff = as_user(browser, url, community.staff, viewport=PHONE)
    staff.goto(f"{url}/staff/cases/")
    assert "华冠物业 已回退:是燃气管道的问题" in staff.inner_text(f"#case-{cid}")
    staff.goto(f"{url}/staff/cases/{cid}")
    assert "华冠物业 已回退:是燃气管道的问题" in staff.inner_text(f"#returned-{cid}")
    assert "单位回退 · " in staff.inner_text("#timeline") and "是燃气管道的问题" in staff.inner_text("#timeline")
    chosen = f"#page-unit-{cid}"
    assert staff.eval_on_selector(chosen, "s => s.options[s.selectedIndex].text") == "请选择单位"
    assert "华冠物业 (已回退)" in staff.inner_text(chosen)
    staff.click(f"form[action='/staff/cases/{cid}/dispatch'] button")  # nothing chosen: the browser asks
    assert staff.url.endswith(f"/staff/cases/{cid}")
    staff.select_option(chosen, label="燃气公司")
    staff.click(f"form[action='/staff/cases/{cid}/dispatch'] button")
    staff.wait_for_url(re.compile(r"done=case_dispatch"))
    assert "燃气公司" in staff.inner_text(f"#case-{cid}") and "已交办" in staff.inner_text(f"#case-{cid}")
    staff.context.close()


@needs_chromium
def test_a_refused_disposal_keeps_the_note_and_names_the_case(stack, api, browser, make_community, community):
    units, cid = dispatched_case(api, make_community, community)
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler).status_code == 200
    url = stack["url"]
    handler = as_user(browser, url, units.handler, viewport=PHONE, javascript=False)
    handler.goto(f"{url}/handler/")
    handler.fill(f"#note-{cid}", "杂物已清走,通道畅通")
    handler.click(f"form[action='/handler/cases/{cid}/dispose'] button")  # no photo chosen
    said = handler.inner_text(f"#refused-{cid}")
    assert said == f"工单 {cid} 未提交: 请拍照上传。"
    assert handler.input_value(f"#note-{cid}") == "杂物已清走,通道畅通"
    assert api.get(f"/api/v1/cases/{cid}", community.staff).json()["state"] == "accepted"
    handler.context.close()


@needs_chromium
def test_the_fix_photo_is_made_small_on_the_phone_shown_and_sent_once(stack, api, browser, make_community, community,
                                                                      tmp_path):
    """王师傅's 12 MP camera photo leaves the phone at most 1600 px wide, with its capture time and place, after a
    preview in place of the browser's "no file chosen"; the staff's recheck photo goes the same way."""
    from harness import run
    from points.infra.db import sql

    units, cid = dispatched_case(api, make_community, community)
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler).status_code == 200
    big = tmp_path / "camera.jpg"
    big.write_bytes(photo(4000, 3000, taken="2026:12:01 09:15:00"))
    assert big.stat().st_size > 300_000
    url = stack["url"]
    handler = as_user(browser, url, units.handler, viewport=PHONE)
    count_uploads(handler)
    handler.goto(f"{url}/handler/")
    chooser = handler.locator(f"#after-{cid}")
    assert (chooser.bounding_box() or {"width": 0})["width"] <= 1  # the camera box, not "Choose File"
    chooser.set_input_files(str(big))
    handler.wait_for_selector(f"#case-{cid} .previews img")
    handler.fill(f"#note-{cid}", "纸箱已清走")
    handler.click(f"form[action='/handler/cases/{cid}/dispose'] button")
    handler.wait_for_url(re.compile(r"done=case_dispose"))
    assert 10_000 < uploaded(handler) < 300_000  # what went over the link: under 6 s at 400 kbit/s
    kept = run(sql("SELECT width, height, taken_at, exif_lat FROM case_photo WHERE \"case\" = {}", cid))
    assert len(kept) == 1 and max(kept[0]["width"], kept[0]["height"]) <= 1600
    assert kept[0]["taken_at"] is not None and kept[0]["exif_lat"] is not None  # the time and place went along
    handler.context.close()
