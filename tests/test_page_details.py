"""The small things a first visit meets: the icon, the public scheme page's title and links, an empty board,
the dashboard chart's axes."""

from __future__ import annotations

import re

from conftest import http_get, http_post, run
from points.infra.db import sql


def test_the_browser_icon_is_served(api):
    icon = http_get(f"{api.url}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_public_scheme_page_names_the_community_and_invites_to_register(api, community):
    row = run(sql("SELECT code, name FROM community WHERE id = {}", community.id))[0]
    page = http_get(f"{api.url}/p/{row['code']}").text
    title = page.split("<title>")[1].split("</title>")[0]
    assert title.startswith(row["name"]) and "积分公示" in title
    assert 'href="/register"' in page and 'href="/login"' in page
    # a new community's board is empty, and says of which month (the heading's, not "this month")
    month = page.split("<h2>光荣榜 ")[1].split("</h2>")[0]
    assert re.fullmatch(r"\d{4}-\d{2}", month) and f"{month} 暂无上榜。" in page and "<li>—</li>" not in page


def test_the_dashboard_chart_has_axes_and_labels(api, community, jpeg):
    api.submit(community.riders[0], "order.streetlight_broken", [jpeg], grid="G1")
    page = api.get("/staff/dashboard", community.staff).text
    chart = page.split('class="chart"')[1].split("</svg>")[0]
    assert "<line" in chart and ">0</text>" in chart and "日期(本地时间)" in chart
    days = sorted(float(x) for x in re.findall(r'<text x="([\d.]+)" y="116"', chart))  # the day labels …
    assert len(days) >= 4 and min(b - a for a, b in zip(days, days[1:], strict=False)) >= 42  # … never on top of each other


def test_staff_see_actions_only_for_members_they_may_manage(api, community):
    page = api.get("/staff/members?status=active", community.staff).text
    rows = page.split("<li>")[1:]
    own = [r for r in rows if "工作人员" in r]
    assert own and all("/suspend" not in r for r in own)  # a staff row has no button that can only fail
    assert any("/suspend" in r for r in rows if "骑手" in r)


def test_registration_names_the_field_at_fault_and_offers_communities_by_name(api, community):
    form = http_get(f"{api.url}/register")
    name = run(sql("SELECT name, code FROM community WHERE id = {}", community.id))[0]
    assert f'<option value="{name["code"]}"' in form.text and name["name"] in form.text
    token = form.cookies["jifen_form"]
    sent = http_post(f"{api.url}/register", cookies={"jifen_form": token}, data={
        "_csrf_token": token, "role": "resident", "name": "", "phone": "13712340000", "password": "long-enough-1",
        "community": name["code"]})
    assert sent.status_code == 400
    error = sent.text.split('id="err-name"')[1].split("</p>")[0]
    assert "请填写必填项" in error and "hidden" not in error.split(">")[0]


def test_the_shop_says_how_many_points_are_short_and_the_history_is_in_one_language(api, community, jpeg):
    from conftest import ROOT, grant
    from points.shop import rewards
    from rules.catalogue import load_catalogue

    rider = community.riders[0]
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    grant(community.id, rider.id, 30)
    shop = api.get("/shop", rider).text
    voucher = run(sql("SELECT id, price FROM reward WHERE community = {} AND code = 'r.meal_voucher'", community.id))[0]
    assert f"还差 {voucher['price'] - 30} 积分" in shop.split(f'id="short-{voucher["id"]}"')[1].split("</span>")[0]

    report = api.submit(rider, "order.streetlight_broken", [jpeg], grid="G1").json()
    assert api.verify(community.staff, report["id"]).status_code == 200
    api.wait_awarded(rider, report["id"])
    zh = api.get("/points", rider).text
    assert "路灯损坏" in zh and "Broken" not in zh and " / " not in zh.split("<tbody>")[1]
    en = api.get("/points", rider, headers={"Cookie": f"jifen_session={rider.session}; lang=en"}).text
    assert "Broken streetlight" in en and "路灯损坏" not in en
