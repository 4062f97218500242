"""The published scheme keeps its promises: 「推荐新成员注册且其首次上报属实 +20」 is paid to whoever referred a new
member, once, when the new member's first report is verified; 「恶意重复刷报(同日≥3次同一问题)−10」 is taken by
the sweep once per member-day, with its reason; and a rules file that promises an item no path in the engine
gives is refused by the checker."""

from __future__ import annotations

import re

from test_accounts import community_code

from client import user_from
from conftest import PASSWORD, grant, near, photo, python, run
from harness import wait_for
from makers import new_phone
from points.areas import schemes
from points.infra.config import ROOT
from points.reports import spam


def register(api, community, **fields):
    return api.post("/api/v1/auth/register", json={
        "role": "resident", "phone": new_phone(), "name": "新居民", "password": PASSWORD,
        "community": community_code(community), **fields})


def history(api, user) -> list[dict]:
    return api.get("/api/v1/me/history", user).json()


def test_a_referral_pays_once_when_the_new_members_first_report_is_verified(api, community):
    referrer, staff = community.riders[0], community.staff
    invite = api.get("/api/v1/me/referral", referrer).json()
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", invite["code"])
    assert api.get("/api/v1/me/referral", referrer).json() == invite  # one code, kept
    assert f"ref={invite['code']}" in invite["link"] and f"community={community_code(community)}" in invite["link"]
    page = api.get(invite["link"].split("/", 3)[3].join(["/", ""])).text  # the link opens the form, filled in
    assert f'id="referral_code" name="referral_code" value="{invite["code"]}"' in page

    unknown = register(api, community, referral_code="ZZZZZZ")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "referral_code"
    garbled = register(api, community, referral_code="AB0O1I")  # letters the codes never use
    assert garbled.status_code == 400 and garbled.json()["error"]["field"] == "referral_code"
    made = register(api, community, referral_code=invite["code"].lower())  # typed in lower case: the same code
    assert made.status_code == 201, made.text
    newcomer = user_from(made, "")
    before = api.balance(referrer)["spendable"]

    first = api.submit(newcomer, "order.garbage_pileup", [photo()], **near(metres_north=400))
    second = api.submit(newcomer, "order.streetlight_broken", [photo()], **near(metres_north=800))
    for sent in (first, second):
        assert sent.status_code == 201, sent.text
        assert api.verify(staff, sent.json()["id"]).status_code == 200
        api.wait_awarded(newcomer, sent.json()["id"])
    paid = wait_for(lambda: [h for h in history(api, referrer) if "推荐新成员" in h["reason"]] or None,
                    what="the referral's points")
    assert len(paid) == 1 and paid[0]["points"] == 20
    assert api.balance(referrer)["spendable"] == before + 20
    python("-m", "points", "sweep")  # the sweep finds nothing more to pay
    assert len([h for h in history(api, referrer) if "推荐新成员" in h["reason"]]) == 1
    assert not [h for h in history(api, newcomer) if "推荐新成员" in h["reason"]]


def test_reporting_one_problem_three_times_in_a_day_is_penalised_once(api, community):
    rider, broke = community.riders[1], community.residents[1]
    other = community.riders[2] if len(community.riders) > 2 else community.residents[0]
    grant(community.id, rider.id, 50)  # taken from the balance, the penalty is in the points history
    for member, metres_east, times in ((rider, 600, 3), (broke, -900, 3), (other, 900, 2)):  # twice is not spam
        for _ in range(times):
            sent = api.submit(member, "order.garbage_pileup", [photo()], **near(metres_east=metres_east))
            assert sent.status_code == 201, sent.text
    swept = python("-m", "points", "sweep")
    assert swept.returncode == 0 and "'spam_penalties'" in swept.stdout, swept.stdout + swept.stderr
    # The sweep runs again and again (its step, here): one penalty a member-day
    assert run(spam.record_spam_penalties(run(schemes.for_community(community.id)), communities=[community.id])) == 0
    taken = [h for h in history(api, rider) if "恶意重复刷报" in h["reason"]]
    assert len(taken) == 1 and taken[0]["points"] == -10 and "×3" in taken[0]["reason"], taken
    assert api.balance(rider)["spendable"] == 40

    # A member with no points: the penalty is owed, and their history still shows it, with its reason
    owed = [h for h in history(api, broke) if "恶意重复刷报" in h["reason"]]
    assert len(owed) == 1 and owed[0]["points"] == -10, history(api, broke)
    assert "恶意重复刷报" in owed[0]["words_zh"] and "/" not in owed[0]["words_zh"]  # one language, plain words
    assert "Spamming duplicates" in owed[0]["words_en"]
    assert api.balance(broke) == {"spendable": 0, "lifetime": 0, "debt": 10}
    page = api.get("/points", broke).text
    assert "恶意重复刷报" in page and "-10" in page
    assert not [h for h in history(api, other) if "恶意重复刷报" in h["reason"]]


def test_the_checker_refuses_an_item_no_path_gives(tmp_path):
    text = (ROOT / "rules" / "default.toml").read_text()
    bad = tmp_path / "promise.toml"
    bad.write_text(text.replace('id = "penalty.spam_duplicates"', 'id = "penalty.spam_twice"', 1))
    checked = python("-m", "rules", "check", str(bad))
    assert checked.returncode == 1
    assert "item 'penalty.spam_twice', field 'verification': no path in the engine gives this item" in checked.stderr
