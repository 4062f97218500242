"""The staff dashboard and the CSV exports: right figures, own community only, no personal data."""

from __future__ import annotations

import csv
import io
import re

import pytest

from conftest import SESSION_COOKIE, near, photo

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


def test_dashboard_counts_and_exports_stay_in_the_community(api, make_community, jpeg):
    a, b = make_community(), make_community()
    rider = a.riders[0]
    place = near(metres_north=33.3333)
    sid = api.submit(rider, "order.streetlight_broken", [jpeg], **place).json()["id"]
    assert api.verify(a.staff, sid).status_code == 200
    points = api.wait_awarded(rider, sid)["points"]
    other = api.submit(b.riders[0], "order.streetlight_broken", [jpeg], **near()).json()["id"]

    rejected = api.submit(a.riders[1], "order.streetlight_broken", [photo()], **near(metres_east=700)).json()["id"]
    assert api.reject(a.staff, rejected, "unclear").status_code == 200

    page = api.get("/staff/dashboard", a.staff)
    assert page.status_code == 200 and "<svg" in page.text
    # The verifiers' table: 2 decided, half approved, half of them for one reporter.
    verifiers = page.text[page.text.index("核验人员"):page.text.index("<h2>", page.text.index("核验人员"))]
    assert re.search(r"<td>2</td><td>50%</td><td>50%</td>", verifiers), verifiers
    tiles = {label: figure for figure, label in re.findall(r"<div><b>(.*?)</b><span>(.*?)</span></div>", page.text)}
    assert (tiles["上报数"], tiles["核实通过率"], tiles["发放积分"], tiles["核实用时中位数(小时)"]) == (
        "2", "50%", str(points), "0.0"), tiles
    top = page.text[page.text.index("贡献排行"):page.text.index("<h2>", page.text.index("贡献排行"))]
    assert f"· {points}</li>" in top and top.count("<li>") == 1
    assert api.get("/staff/dashboard", rider).status_code == 403

    worded = list(csv.reader(io.StringIO(api.get("/staff/export/submissions", a.staff).text.lstrip("\ufeff"))))
    assert worded[0][:9] == ["编号", "上报时间", "成员编号", "事项代码", "事项", "数量", "状态代码", "状态", "积分"]
    for kind in ("ledger", "orders", "cases", "tasks"):  # every column named in the page's language
        header = next(csv.reader(io.StringIO(api.get(f"/staff/export/{kind}", a.staff).text.lstrip("\ufeff"))))
        assert header and not [h for h in header if h.startswith("column.") or h.isascii()], (kind, header)
    english = api.get("/staff/export/orders", a.staff, headers={"Cookie": f"{SESSION_COOKIE}={a.staff.session}; lang=en"})
    assert next(csv.reader(io.StringIO(english.text.lstrip("\ufeff"))))[:3] == ["ID", "Time", "Member"]
    exported = api.get("/staff/export/submissions?header=codes", a.staff)  # for scripts: the columns' ids
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "submitted_at", "member"] and rows[1:] == worded[1:]
    ids = [int(r[0]) for r in rows[1:]]
    assert sid in ids and other not in ids
    mine = dict(zip(rows[0], next(r for r in rows[1:] if int(r[0]) == sid), strict=True))
    assert float(mine["lat"]) == round(place["lat"], 3)  # coarse, as in every export
    assert (mine["status"], mine["status_name"]) == ("awarded", "已得分")  # codes for machines, words for people
    assert mine["item_name"] == "路灯损坏"
    assert rider.phone not in exported.text

    ledger = api.get("/staff/export/ledger", a.staff).text
    assert f"submission:{sid}" in ledger and f"submission:{other}" not in ledger
    assert str(points) in ledger
    assert "路灯损坏" in ledger and "Broken streetlight" not in ledger  # the reason in the page's one language
    assert api.get("/staff/export/orders", b.staff).status_code == 200
    assert api.get("/staff/export/secrets", a.staff).status_code == 400


def test_admin_pages(api, community):
    from conftest import PASSWORD, new_phone, run
    from points.people import members

    phone = new_phone()
    run(members.create_member(community.id, "admin", "管理员", phone, PASSWORD))
    admin = api.user(phone)
    assert api.get("/admin/", community.staff).status_code == 403
    rules = api.get("/admin/rules", admin)
    assert rules.status_code == 200 and api.get("/api/v1/rules").json()["version"] in rules.text

    form = {"_csrf_token": admin.csrf, "name": "城市平台", "community_id": str(community.id), "role": "staff"}
    issued = api.post("/admin/tokens", admin, data=form)
    token = issued.text.split('class="code">')[1].split("<")[0]
    assert issued.status_code == 200 and token.startswith("jft_")
    assert token not in api.get("/admin/tokens", admin).text  # shown once

    rider = community.riders[0]
    changed = api.post(f"/admin/members/{rider.id}/role", admin, data={"_csrf_token": admin.csrf, "role": "resident"},
                       follow_redirects=False)
    assert changed.status_code == 303 and "done=role_changed" in changed.headers["location"]
    log = api.get("/admin/audit?action=member.role", admin)
    assert log.status_code == 200 and f"成员 #{rider.id}" in log.text  # the object in words, not "member"
    row = log.text.split(f"成员 #{rider.id}")[0].rsplit("<tr>", 1)[1]
    assert "更改角色" in row and "管理员" in row  # the action in words, the actor by name and role
    details = log.text.split(f"成员 #{rider.id}")[1].split("</tr>")[0]
    assert "原为: 骑手" in details and "改为: 居民" in details, details  # named, not coded
    assert "from:" not in details and "to:" not in details
    bad = api.get("/admin/audit?community=huaguan", admin)  # a filter typed by hand: a page, in Chinese
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"] and "填写有误" in bad.text


def test_staff_restock_from_the_stock_page(api, community):
    from conftest import run
    from points.infra.config import ROOT
    from points.infra.db import sql
    from points.shop import rewards
    from rules.catalogue import load_catalogue

    staff = community.staff
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    reward = run(sql("SELECT id, stock FROM reward WHERE community = {} AND code = 'r.haircut'", community.id))[0]
    page = api.get("/staff/shop", staff)
    assert page.status_code == 200 and f"/staff/shop/{reward['id']}/restock" in page.text
    done = api.post(f"/staff/shop/{reward['id']}/restock", staff,
                    data={"_csrf_token": staff.csrf, "quantity": "5", "reason": "新到货"}, follow_redirects=False)
    assert done.status_code == 303 and "done=restocked" in done.headers["location"]
    assert run(sql("SELECT stock FROM reward WHERE id = {}", reward["id"]))[0]["stock"] == reward["stock"] + 5
    silly = api.post(f"/staff/shop/{reward['id']}/restock", staff,
                     data={"_csrf_token": staff.csrf, "quantity": "lots", "reason": "x"}, follow_redirects=False)
    assert "error.invalid_quantity" in silly.headers["location"]


def test_staff_add_and_change_a_reward_from_the_pages(api, community):
    from conftest import run
    from points.infra.db import sql

    staff = community.staff
    fields = {"_csrf_token": staff.csrf, "code": "r.umbrella", "name_zh": "雨伞", "name_en": "Umbrella",
              "kind": "goods", "price": "80", "roles": ["rider"], "limit_count": "1", "limit_period": "month"}
    added = api.post("/staff/shop/save", staff, data=fields, follow_redirects=False)
    assert added.status_code == 303, added.text
    row = run(sql("SELECT id, price, roles, limit_count FROM reward WHERE community = {} AND code = 'r.umbrella'",
                  community.id))[0]
    assert (row["price"], row["roles"], row["limit_count"]) == (80, "rider", 1)
    bad = api.post("/staff/shop/save", staff, data={**fields, "id": str(row["id"]), "price": "0"})
    assert bad.status_code == 400 and "price" in bad.text
    changed = api.post("/staff/shop/save", staff, data={**fields, "id": str(row["id"]), "price": "90"},
                       follow_redirects=False)
    assert changed.status_code == 303
    after = run(sql("SELECT price, active FROM reward WHERE id = {}", row["id"]))[0]
    assert after["price"] == 90 and not after["active"]  # the "on offer" box was not ticked
    assert api.get(f"/staff/shop/{row['id']}", staff).status_code == 200
