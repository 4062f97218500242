"""The report page as a rider meets it on a phone, and the review page as staff meet it, in Chromium with
JavaScript on and off: every refusal in Chinese beside its field, all at once; one report however often the
button is tapped or the form sent again; the photo's time and GPS reaching staff through the in-browser
downscale; where a grid-only report is; times in the scheme's zone."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from browsing import DESKTOP, PHONE, Screens, as_user, needs_chromium, shown_errors
from conftest import PASSWORD, new_phone, photo, run
from points.infra.db import sql
from points.people import members

SHANGHAI = ZoneInfo("Asia/Shanghai")


def reports_by(member_id: int) -> int:
    return run(sql("SELECT COUNT(*) AS n FROM submission WHERE member = {}", member_id))[0]["n"]


def picture(tmp_path, name: str = "photo.jpg", **kwargs) -> str:
    path = tmp_path / name
    path.write_bytes(photo(1200, 900, **kwargs))
    return str(path)


@needs_chromium
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_every_problem_is_shown_in_chinese_beside_its_field(stack, browser, community, tmp_path, javascript):
    resident = community.residents[0]
    page = as_user(browser, stack["url"], resident, javascript=javascript)
    page.goto(f"{stack['url']}/report")
    page.select_option("#item", "hazard.fire_exit_blocked")  # needs a photo, a place and a description
    page.click("#send")
    page.wait_for_selector("#err-description:not([hidden])")
    errors = shown_errors(page)
    assert errors["err-photos"] == "请拍照上传。"
    assert errors["err-location"] == "请打开手机定位,或选择网格。"
    assert errors["err-description"] == "请填写描述。"
    assert not page.is_visible("#desc-optional")  # never "(此事项可不填)" above "请填写描述。"
    Screens(f"report-errors-{'js' if javascript else 'no-js'}").shot(page, "all-at-once")

    # A file that is no picture: named as the first photo, in Chinese; without JavaScript the member is
    # also told the chosen photo must be chosen again (a browser never sends it twice).
    note = tmp_path / "note.jpg"
    note.write_bytes(b"this is not a picture at all")
    page.set_input_files("#photos", str(note))
    page.select_option("#grid", "G1")
    page.fill("#description", "3号楼楼道堵了")
    page.click("#send")
    page.wait_for_selector("#err-photos:not([hidden])")
    errors = shown_errors(page)
    assert errors["err-photos"] == "第 1 张照片:请上传照片(JPEG、PNG 或 WebP)。", errors
    assert set(errors) == {"err-photos"}
    if not javascript:
        assert page.inner_text("#photos-again") == "上次选的照片没有保存,请重新拍照或选择。"
        assert page.input_value("#description") == "3号楼楼道堵了"  # what was typed is kept
    assert reports_by(resident.id) == 0
    page.context.close()


@needs_chromium
def test_a_pending_rider_is_told_what_comes_next_not_given_a_form(stack, api, browser, community):
    phone = new_phone()
    run(members.create_member(community.id, "rider", "待审骑手", phone, PASSWORD, "meituan", "pending", "MT-1"))
    page = as_user(browser, stack["url"], api.user(phone))
    page.goto(f"{stack['url']}/report")
    assert page.query_selector("#report") is None
    assert "社区工作人员审核通过后,您就可以上报问题" in page.inner_text("#pending")
    page.context.close()


@needs_chromium
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_double_tap_and_a_resubmit_after_going_back_send_one_report(stack, browser, community, tmp_path,
                                                                       javascript):
    rider = community.riders[0]
    page = as_user(browser, stack["url"], rider, javascript=javascript)
    page.goto(f"{stack['url']}/report")
    chosen = picture(tmp_path)
    page.set_input_files("#photos", chosen)
    page.select_option("#item", "order.streetlight_broken")
    page.select_option("#grid", "G2")
    page.dblclick("#send")
    if javascript:
        page.wait_for_selector("#sent:not([hidden])")
        assert page.inner_text("#sent h2").startswith("已提交")
        assert page.is_disabled("#send") or page.is_hidden("#report")
        page.click("#sent a[href='/submissions']")
    page.wait_for_url("**/submissions**")
    assert reports_by(rider.id) == 1
    page.go_back(wait_until="commit")  # from the back/forward cache there is no new "load"
    page.wait_for_selector("#send", state="attached")
    if javascript:  # the same form again: the page knows it was sent
        page.wait_for_selector("#sent:not([hidden])")
    else:  # the same form again, with the same key: sending it again finds the first report
        page.set_input_files("#photos", chosen)
        page.click("#send")
        page.wait_for_url("**/submissions**")
    assert reports_by(rider.id) == 1
    if not javascript:  # a phone that keeps no page: the form comes anew, with a new key; the same report again
        page.goto(f"{stack['url']}/report")
        page.set_input_files("#photos", chosen)
        page.select_option("#item", "order.streetlight_broken")
        page.select_option("#grid", "G2")
        page.click("#send")
        page.wait_for_url("**/submissions**")
        assert reports_by(rider.id) == 1
    page.context.close()


@needs_chromium
def test_searching_an_item_keeps_the_description_rule_true(stack, browser, community, tmp_path):
    resident = community.residents[0]
    page = as_user(browser, stack["url"], resident)
    page.goto(f"{stack['url']}/report")
    page.select_option("#item", "hazard.fire_exit_blocked")  # description needed …
    assert page.is_visible("#desc-optional") is False
    page.fill("#item-search", "火星")  # nothing matches: the page says so, and keeps nothing chosen
    assert page.is_visible("#item-none") and "没有找到这个事项" in page.inner_text("#item-none")
    assert page.input_value("#item") == ""
    page.fill("#item-search", "路灯")  # … then the street light, which needs none
    assert page.input_value("#item") == "order.streetlight_broken" and not page.is_visible("#item-none")
    assert page.is_visible("#desc-optional")
    page.set_input_files("#photos", picture(tmp_path))
    page.select_option("#grid", "G2")
    page.click("#send")
    page.wait_for_selector("#sent:not([hidden])")
    assert reports_by(resident.id) == 1
    page.context.close()


@needs_chromium
def test_staff_see_the_photo_time_and_how_far_its_gps_is_for_a_report_sent_from_the_page(
        stack, browser, community, tmp_path):
    rider = community.riders[1]
    page = as_user(browser, stack["url"], rider)
    # The phone says it is 500 m north of where the photo was taken; the phone was held upright.
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 23.4662 + 500 / 111_000, "longitude": 116.7605})
    page.goto(f"{stack['url']}/report")
    page.wait_for_selector("#located:not([hidden])")
    page.set_input_files("#photos", picture(tmp_path, taken="2026:11:20 08:30:00", orientation=6))
    page.select_option("#item", "order.streetlight_broken")
    page.click("#send")
    page.wait_for_selector("#sent:not([hidden])")
    row = run(sql("SELECT s.id, p.taken_at, p.exif_lat, p.width, p.height FROM submission s "
                  "JOIN photo p ON p.submission = s.id WHERE s.member = {}", rider.id))[0]
    assert row["taken_at"] is not None and row["exif_lat"] is not None  # carried through the downscale
    assert row["width"] < row["height"]  # turned upright once, not twice
    page.context.close()

    staff = as_user(browser, stack["url"], community.staff, viewport=DESKTOP)
    staff.goto(f"{stack['url']}/staff/submissions/{row['id']}")
    facts = staff.inner_text("figcaption")
    assert "11-20 08:30" in facts  # the camera's clock, as the scheme's local time
    assert "距上报位置 5" in facts and "米" in facts and staff.query_selector("figcaption .warn")
    Screens("staff-evidence").shot(staff, "far-photo")
    staff.context.close()


def test_staff_see_where_a_grid_only_report_is(api, community, jpeg):
    report = api.submit(community.riders[0], "hazard.gas_leak", [jpeg], grid="G3", address="5栋东侧",
                        description="闻到燃气味")
    assert report.status_code == 201, report.text
    sid = report.json()["id"]
    page = api.get(f"/staff/submissions/{sid}", community.staff).text
    place = page.split('id="place">')[1].split("</dd>")[0]
    assert "网格 G3" in place and "5栋东侧" in place
    # its photo was taken in G1: staff are warned beside it, as for a photo far from a claimed place
    assert "不在所报网格 G3 内" in page.split('id="outside-grid-1"')[1].split("</span>")[0]
    honest = api.submit(community.riders[0], "order.streetlight_broken", [jpeg], grid="G1", address="3栋")
    assert 'id="outside-grid-' not in api.get(f"/staff/submissions/{honest.json()['id']}", community.staff).text
    queue = api.get("/staff/queue", community.staff).text
    row = queue.split(f"<tr><td>{sid}</td>")[1].split("</tr>")[0]
    assert "<td>G3</td>" in row and community.riders[0].phone not in row


def test_times_are_shown_and_exported_in_the_schemes_zone(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    report = api.submit(rider, "order.streetlight_broken", [jpeg], grid="G1").json()
    local = datetime.fromisoformat(report["submitted_at"]).astimezone(SHANGHAI)
    assert local.strftime("%m-%d %H:%M") in api.get("/submissions", rider).text
    assert local.strftime("%m-%d %H:%M") in api.get("/staff/queue", staff).text
    rows = list(csv.reader(io.StringIO(api.get("/staff/export/submissions", staff).text.lstrip("\ufeff"))))
    mine = next(r for r in rows if r[0] == str(report["id"]))
    assert mine[1] == local.strftime("%Y-%m-%d %H:%M")


@needs_chromium
def test_the_phone_layout_has_a_tab_bar_with_tap_sized_targets(stack, browser, community):
    page = as_user(browser, stack["url"], community.riders[0], viewport=PHONE)
    page.goto(f"{stack['url']}/")
    tabs = page.query_selector_all("nav.tabs a")
    assert [t.inner_text().split("\n")[-1] for t in tabs] == ["首页", "随手拍", "任务", "我的上报", "积分超市", "我的"]
    for target in [*tabs, *page.query_selector_all("nav.top a, nav.top button")]:
        box = target.bounding_box()
        assert box["height"] >= 44, (target.inner_text(), box)
    page.context.close()


@needs_chromium
def test_the_pickup_qr_is_a_standard_qr_a_scanner_reads_and_the_counter_shows_whose_it_is(
        stack, api, browser, community, tmp_path):
    from conftest import ROOT, grant
    from points.shop import rewards
    from rules.catalogue import load_catalogue

    resident = community.residents[0]
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    grant(community.id, resident.id, 100)
    voucher = run(sql("SELECT id FROM reward WHERE community = {} AND code = 'r.meal_voucher'", community.id))[0]
    assert api.post("/api/v1/shop/orders", resident, json={"reward": voucher["id"]}).status_code == 201
    code = run(sql("SELECT pickup_code FROM redemption WHERE member = {}", resident.id))[0]["pickup_code"]

    page = as_user(browser, stack["url"], resident)
    page.goto(f"{stack['url']}/orders")
    qr = page.query_selector(".qr svg")
    assert qr.bounding_box()["width"] >= 200  # scannable from a phone screen at the counter
    shot = tmp_path / "qr.png"
    qr.screenshot(path=str(shot))
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(shot)], capture_output=True, text=True)
    assert decoded.stdout.strip() == code and decoded.stdout.startswith(code)
    assert "QR-Code" in subprocess.run(["zbarimg", "-q", str(shot)], capture_output=True, text=True).stdout
    page.context.close()

    staff = as_user(browser, stack["url"], community.staff, viewport=DESKTOP)
    staff.goto(f"{stack['url']}/staff/counter?code={code}")
    assert staff.inner_text("#counter-reward") == "爱心餐券(合作餐馆满减5元)"
    name = run(sql("SELECT name FROM member WHERE id = {}", resident.id))[0]["name"]
    shown = staff.inner_text("#counter-member")
    assert name[0] + "*" in shown and name not in shown
    staff.context.close()


@needs_chromium
def test_from_the_home_screen_to_a_sent_report_in_four_taps(stack, api, browser, community, tmp_path, jpeg):
    rider = community.riders[0]
    api.submit(rider, "order.streetlight_broken", [jpeg], grid="G1")  # a most-used item: a chip on the form
    page = as_user(browser, stack["url"], rider)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 23.4662 + 900 / 111_000, "longitude": 116.7605})
    page.goto(f"{stack['url']}/")
    page.click("nav.tabs a[href='/report']")                          # 1: 随手拍
    page.wait_for_selector("#located:not([hidden])")
    page.set_input_files("#photos", picture(tmp_path))                 # 2: the camera button (and the shutter)
    page.click("label.chip:has(input[value='order.streetlight_broken'])")  # 3: the item
    page.click("#send")                                                # 4: send
    page.wait_for_selector("#sent:not([hidden])")
    assert reports_by(rider.id) == 2
    page.context.close()


def test_approving_opens_the_next_report_of_the_queue(api, community, jpeg):
    staff = community.staff
    first, second = (api.submit(community.riders[0], "order.streetlight_broken", [jpeg], grid=g).json()["id"]
                     for g in ("G1", "G2"))
    approved = api.post(f"/staff/submissions/{first}/verify", staff, data={"_csrf_token": staff.csrf},
                        follow_redirects=False)
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/staff/submissions/{second}?done=verified"
