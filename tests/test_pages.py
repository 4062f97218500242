"""The web pages in a real headless Chromium (Debian's, driven by Playwright): the whole loop from
registration to the counter, with JavaScript on and off; screenshots of every page at phone and desktop
widths go to test-artefacts/. Also: the report page's weight, and every translatable string translated."""

from __future__ import annotations

import re

from browsing import DESKTOP, PHONE, Screens, needs_chromium
from conftest import PASSWORD, http_get, new_phone, photo, run
from points.infra.config import ROOT as APP_ROOT
from points.infra.db import sql
from points.people import members
from points.shop import rewards
from rules.catalogue import load_catalogue

pytestmark = needs_chromium

def phone_photo() -> bytes:
    """A 12-megapixel photo with texture (a flat colour would compress to nothing), as a phone saves it."""
    import io

    from PIL import Image, ImageFilter

    size = (4000, 3000)
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    grain = Image.effect_noise(size, 40).filter(ImageFilter.GaussianBlur(1.2)).convert("RGB")
    out = io.BytesIO()
    Image.blend(base, grain, 0.35).save(out, "JPEG", quality=92)
    return out.getvalue()


def community_with_shop(make_community):
    c = make_community()
    run(rewards.load_catalogue(c.id, load_catalogue(APP_ROOT / "rules" / "rewards.toml")))
    code = run(sql("SELECT code FROM community WHERE id = {}", c.id))[0]["code"]
    return c, code


def loop(stack, browser, make_community, tmp_path, javascript: bool) -> None:
    url = stack["url"]
    screens = Screens("loop-js" if javascript else "loop-no-js")
    c, code = community_with_shop(make_community)
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(phone_photo())
    rider_phone = new_phone()

    rider = browser.new_context(viewport=PHONE, java_script_enabled=javascript, locale="zh-CN").new_page()
    staff = browser.new_context(viewport=DESKTOP, java_script_enabled=javascript).new_page()

    # 注册志愿者: a rider registers and waits for approval.
    rider.goto(f"{url}/register")
    screens.shot(rider, "register")
    rider.check("input[name=role][value=rider]")
    rider.fill("#name", "新骑手")
    rider.fill("#phone", rider_phone)
    rider.fill("#password", PASSWORD)
    rider.select_option("#community", code)
    rider.select_option("#platform", "meituan")
    rider.fill("#platform_rider_id", "MT-7788")
    rider.click("button.primary")
    rider.wait_for_url(f"{url}/")
    assert "待审核" in rider.content()
    screens.shot(rider, "home-pending")

    # Staff log in and approve.
    staff.goto(f"{url}/staff/members")
    staff.wait_for_url(re.compile(r"/login"))
    staff.fill("#phone", c.staff.phone)
    staff.fill("#password", PASSWORD)
    staff.click("form[action='/login'] button")
    staff.wait_for_url(f"{url}/staff/members")
    screens.shot(staff, "staff-members")
    staff.click("form[action$='/approve'] button")
    staff.wait_for_url(re.compile(r"done=member_approve"))

    # 发现问题 → 反馈社区: the rider reports a blocked fire exit with a photo.
    rider.goto(f"{url}/report")
    screens.shot(rider, "report")
    rider.set_input_files("#photos", str(picture))
    rider.select_option("#item", "hazard.fire_exit_blocked")
    rider.select_option("#grid", "G1")
    rider.fill("#description", "3号楼楼道堆满纸箱")
    rider.click("#report button.primary")
    if javascript:  # the page says it is sent, in place
        rider.wait_for_selector("#sent", state="visible")
        assert "已提交" in rider.inner_text("#sent")
        screens.shot(rider, "sent")
        rider.click("#sent a[href='/submissions']")
    rider.wait_for_url(re.compile(r"/submissions"))
    screens.shot(rider, "submissions")
    member = run(sql("SELECT id FROM member WHERE phone = {}", members.normalise_phone(rider_phone)))[0]
    sid = run(sql("SELECT id FROM submission WHERE member = {}", member["id"]))[0]["id"]
    size = run(sql("SELECT size, width, height FROM photo WHERE submission = {}", sid))[0]
    if javascript:  # downscaled in the browser before it was sent: a 12-megapixel photo well under 500 KB
        assert max(size["width"], size["height"]) <= 1600
        sent = int(rider.evaluate("sessionStorage.getItem('jifen-photo-bytes')"))
        assert 0 < sent < 500_000 < picture.stat().st_size, sent

    # Staff verify it from the queue.
    staff.goto(f"{url}/staff/queue")
    screens.shot(staff, "queue")
    staff.click(f"a[href='/staff/submissions/{sid}']")
    screens.shot(staff, "submission")
    if javascript:
        staff.keyboard.press("a")  # the approve shortcut
    else:
        staff.click("form[action$='/verify'] button")
    staff.wait_for_url(re.compile(r"done=verified"))

    # 获得积分: the worker awards; the rider sees the points.
    deadline = 40
    while deadline:
        rider.goto(f"{url}/")
        if rider.inner_text("#balance") == "50":
            break
        rider.wait_for_timeout(500)
        deadline -= 1
    assert rider.inner_text("#balance") == "50"
    screens.shot(rider, "home-awarded")

    # 积分兑换: the rider redeems a meal voucher and staff hand it over at the counter.
    rider.goto(f"{url}/shop")
    screens.shot(rider, "shop")
    voucher = run(sql("SELECT id FROM reward WHERE community = {} AND code = 'r.meal_voucher'", c.id))[0]["id"]
    rider.click(f"a[href='/shop/{voucher}']")
    assert "确认兑换" in rider.inner_text(f"form[action='/shop/{voucher}'] button")
    screens.shot(rider, "confirm")
    rider.click(f"form[action='/shop/{voucher}'] button")
    rider.wait_for_url(re.compile(r"/orders\?done=ordered"))
    screens.shot(rider, "orders")
    pickup = rider.inner_text(".code")
    staff.goto(f"{url}/staff/counter")
    staff.fill("#code", "ZZZZ9999")  # mistyped: the counter says so, in words staff can act on
    staff.click("form[method=get] button")
    assert "没有这个取货码的订单,请核对后重试。" in staff.inner_text("main")
    staff.fill("#code", pickup)
    staff.click("form[method=get] button")
    screens.shot(staff, "counter")
    staff.click("form[method=post][action='/staff/counter'] button")
    staff.wait_for_url(re.compile(r"done=fulfilled"))
    assert run(sql("SELECT status FROM redemption WHERE pickup_code = {}", pickup))[0]["status"] == "fulfilled"
    rider.goto(f"{url}/orders")
    assert "已领取" in rider.content()


def test_the_whole_loop_in_a_browser(stack, browser, make_community, tmp_path):
    loop(stack, browser, make_community, tmp_path, javascript=True)


def test_the_whole_loop_without_javascript(stack, browser, make_community, tmp_path):
    loop(stack, browser, make_community, tmp_path, javascript=False)


def test_a_report_made_without_signal_is_sent_once_the_network_returns(stack, browser, community, tmp_path):
    url, rider = stack["url"], community.residents[0]
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(photo(1200, 900))
    context = browser.new_context(viewport=PHONE)
    context.add_cookies([{"name": "jifen_session", "value": rider.session, "url": url}])
    page = context.new_page()
    page.goto(f"{url}/report")
    page.set_input_files("#photos", str(picture))
    page.select_option("#item", "order.streetlight_broken")
    page.select_option("#grid", "G2")
    context.set_offline(True)
    page.click("#report button.primary")
    page.wait_for_selector("#queued", state="visible")
    Screens("offline").shot(page, "queued")
    count = lambda: run(sql("SELECT COUNT(*) AS n FROM submission WHERE member = {}", rider.id))[0]["n"]  # noqa: E731
    assert count() == 0
    context.set_offline(False)  # the page hears "online" and sends what it kept
    page.wait_for_selector("#sent:not([hidden])")  # and says so: no "no signal" left on a filled form
    assert page.is_hidden("#queued") and page.is_hidden("#report")
    page.reload()  # a second chance to send must not send twice
    page.wait_for_timeout(1000)
    assert count() == 1
    assert page.evaluate("localStorage.getItem('jifen-report-queue')") == "[]"
    context.close()


def test_the_report_page_weighs_under_60_kb(api, community):
    rider = community.riders[0]
    page = api.get("/report", rider)
    assert page.status_code == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert assets, "the page names its stylesheet and script"
    total = len(page.content) + sum(len(http_get(api.url + a).content) for a in assets)
    assert total < 60_000, f"{total} bytes"


def test_a_phone_keeps_the_static_files_until_a_release_changes_them(api, community):
    """A page links each static file by its content's hash; the file comes with a year's caching, so a slow
    network fetches it once per release; a file changed since is another URL."""
    import hashlib

    page = api.get("/report", community.riders[0]).text
    for name in ("app.css", "icon.svg", "report.js"):
        digest = hashlib.sha256((APP_ROOT / "web" / "static" / name).read_bytes()).hexdigest()[:12]
        assert f'"/static/{name}?v={digest}"' in page, name
        answer = http_get(f"{api.url}/static/{name}?v={digest}")
        assert answer.status_code == 200
        assert {"public", "max-age=31536000", "immutable"} <= {p.strip() for p in answer.headers["cache-control"].split(",")}
    for f in (APP_ROOT / "web" / "templates").glob("*.html"):  # no page links a static file another way
        assert not re.search(r'(?:href|src)="/static/', f.read_text()), f"{f.name}: link it with static()"


def test_every_message_the_pages_use_is_in_the_catalogues():
    """Babel's extraction over the templates and page code, against the gettext catalogues: nothing missing,
    nothing left unused, every message code with its English; and no Chinese text in a template."""
    from web.catalogues import problems

    assert problems() == {"missing in zh": [], "unused": [], "codes without English": []}
    chinese = re.compile(r"[\u4e00-\u9fff]")
    for f in (APP_ROOT / "web" / "templates").glob("*.html"):
        assert not chinese.search(f.read_text()), f"{f.name}: Chinese text outside the catalogue"


def test_no_chinese_text_in_python():
    """What people read lives in the catalogues and wording files; Python holds none of it (docstrings aside)."""
    import ast

    chinese = re.compile(r"[\u4e00-\u9fff]")
    found = []
    for folder in ("points", "web", "rules"):
        for f in (APP_ROOT / folder).rglob("*.py"):
            tree = ast.parse(f.read_text())
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                          and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            found += [f"{f.relative_to(APP_ROOT)}:{n.lineno}" for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
                      and chinese.search(n.value)]
    assert not found, found
