"""Members' pages over HTTP: news since the last visit, the honour-board name choice, the pickup QR code,
the account deletion form, and the English switch."""

from __future__ import annotations

from conftest import PASSWORD, grant, http_post, near, run
from points.infra.config import ROOT
from points.infra.db import sql
from points.shop import rewards
from rules.catalogue import load_catalogue


def test_news_since_the_last_visit_is_told_once(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    assert api.get("/", rider).status_code == 200  # a first visit: nothing new yet
    sid = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()["id"]
    api.verify(staff, sid)
    points = api.wait_awarded(rider, sid)["points"]
    first = api.get("/", rider).text
    assert "自您上次访问以来" in first and f"获得 {points} 积分" in first
    assert "自您上次访问以来" not in api.get("/", rider).text


def test_the_board_shows_members_as_they_chose(api, community, jpeg):
    rider, staff = community.riders[1], community.staff
    sid = api.submit(rider, "order.streetlight_broken", [jpeg], **near(metres_east=300)).json()["id"]
    api.verify(staff, sid)
    api.wait_awarded(rider, sid)
    name = run(sql("SELECT name FROM member WHERE id = {}", rider.id))[0]["name"]

    def shown() -> str:
        board = api.get("/api/v1/honours/board", rider).json()
        return next(b["name"] for b in board if b["member"] == rider.id)

    assert shown() == name[0] + "*" * (len(name) - 1)
    for choice, expected in (("full", name), ("hidden", "")):
        saved = api.post("/account", rider, data={"_csrf_token": rider.csrf, "board_name": choice},
                         follow_redirects=False)
        assert saved.status_code == 303
        assert shown() == expected
    bad = api.post("/account", rider, data={"_csrf_token": rider.csrf, "board_name": "sparkly"})
    assert bad.status_code == 400


def test_an_order_shows_its_pickup_code_as_a_qr_code(api, community):
    resident = community.residents[0]
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    grant(community.id, resident.id, 100)
    voucher = run(sql("SELECT id FROM reward WHERE community = {} AND code = 'r.meal_voucher'", community.id))[0]
    ordered = api.post(f"/shop/{voucher['id']}", resident, data={"_csrf_token": resident.csrf},
                       follow_redirects=False)
    assert ordered.status_code == 303 and "done=ordered" in ordered.headers["location"]
    page = api.get("/orders", resident).text
    code = run(sql("SELECT pickup_code FROM redemption WHERE member = {}", resident.id))[0]["pickup_code"]
    assert f"<title>{code}</title>" in page and "<svg" in page


def test_deleting_from_the_account_page(api, community):
    resident = community.residents[1]
    wrong = api.post("/account/delete", resident, data={"_csrf_token": resident.csrf, "password": "nope-nope"})
    assert wrong.status_code == 403
    gone = api.post("/account/delete", resident, data={"_csrf_token": resident.csrf, "password": PASSWORD},
                    follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert api.get("/api/v1/me", resident).status_code == 401


def test_the_english_switch(api, community):
    rider = community.riders[0]
    switched = api.get("/lang/en?next=/shop", rider, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/shop"
    assert "lang=en" in switched.headers["set-cookie"]
    page = api.get("/shop", rider, headers={"Cookie": f"jifen_session={rider.session}; lang=en"})
    assert "Redeem" in page.text or "you have" in page.text
    assert "积分超市" not in page.text.split("<main>")[1]
    assert api.get("/lang/en?next=//evil.example", follow_redirects=False).headers["location"] == "/"


def test_the_login_form_needs_the_token_of_its_own_page(api, community):
    """No login CSRF: another site's form cannot sign a browser in, for it lacks the visitor's form token."""
    import httpx

    rider = community.riders[0]
    forged = http_post(f"{api.url}/login", data={"phone": rider.phone, "password": PASSWORD}, follow_redirects=False)
    assert forged.status_code == 403
    with httpx.Client(base_url=api.url) as browser:
        page = browser.get("/login")
        token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
        signed_in = browser.post("/login", data={"_csrf_token": token, "phone": rider.phone, "password": PASSWORD},
                                 follow_redirects=False)
        assert signed_in.status_code == 303 and "jifen_session" in signed_in.headers["set-cookie"]
