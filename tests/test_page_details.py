"""The small things a first visit meets: the icon, the public scheme page's title and links, an empty board,
the dashboard chart's axes."""

from __future__ import annotations

import httpx

from conftest import run
from points.db import sql


def test_the_browser_icon_is_served(api):
    icon = httpx.get(f"{api.url}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_public_scheme_page_names_the_community_and_invites_to_register(api, community):
    row = run(sql("SELECT code, name FROM community WHERE id = {}", community.id))[0]
    page = httpx.get(f"{api.url}/p/{row['code']}").text
    title = page.split("<title>")[1].split("</title>")[0]
    assert title.startswith(row["name"]) and "积分公示" in title
    assert 'href="/register"' in page and 'href="/login"' in page
    assert "本月暂无上榜" in page and "<li>—</li>" not in page  # a new community's board is empty


def test_the_dashboard_chart_has_axes_and_labels(api, community, jpeg):
    api.submit(community.riders[0], "order.streetlight_broken", [jpeg], grid="G1")
    page = api.get("/staff/dashboard", community.staff).text
    chart = page.split('class="chart"')[1].split("</svg>")[0]
    assert "<line" in chart and ">0</text>" in chart and "日期(本地时间)" in chart
