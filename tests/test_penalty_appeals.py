"""申诉 of the scheme's 「恶意重复刷报」 penalty: the member appeals it once from its line in the points history (the
API or the page), within the scheme's days; staff of the community see it on their queue, and grant it (the points
come back, or the debt is forgiven) or refuse it with a note the member reads. Nobody else reaches it."""

from __future__ import annotations

from test_referrals import history

from conftest import grant, near, new_community, photo, run, signed_in
from harness import clock_moved
from points.areas import schemes
from points.reports import spam


def penalised(api, member, metres_east: int) -> dict:
    """The member reports one problem three times in a day; the sweep's step takes the penalty (run here, as the
    sweep runs it; test_referrals.py runs the whole sweep command): its history line."""
    for _ in range(3):
        assert api.submit(member, "order.garbage_pileup", [photo()], **near(metres_east=metres_east)).status_code == 201
    rules = run(schemes.for_community(member.community_id))
    assert run(spam.record_spam_penalties(rules, communities=[member.community_id])) == 1
    return next(h for h in history(api, member) if "恶意重复刷报" in h["reason"])


def test_a_penalty_is_appealed_once_and_staff_give_it_back_or_say_why_not(api, community):
    rider, broke, staff = community.riders[1], community.residents[1], community.staff
    grant(community.id, rider.id, 50)
    line = penalised(api, rider, 600)
    assert line["points"] == -10 and line["appeal"] == {"state": "", "open": True, "note": ""}
    assert api.balance(rider)["spendable"] == 40
    assert not [h for h in history(api, rider) if h["points"] > 0 and h["appeal"]]  # only a penalty is appealable

    appeal = f"/api/v1/me/history/{line['id']}/appeal"
    assert api.post(appeal, broke, json={"reason": "不是我的"}).status_code == 404  # another member's line
    assert api.post(appeal, staff, json={"reason": "代为申诉"}).status_code == 404  # nor staff's to make
    credit = next(h for h in history(api, rider) if h["points"] > 0)
    assert api.post(f"/api/v1/me/history/{credit['id']}/appeal", rider, json={"reason": "x"}).status_code == 404
    grant(community.id, rider.id, -1, "deduction")  # a deduction staff made: reversed by staff, not appealed here
    deduction = next(h for h in history(api, rider) if h["points"] == -1)
    assert deduction["appeal"] is None
    refused = api.post(f"/api/v1/me/history/{deduction['id']}/appeal", rider, json={"reason": "x"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_appealable"
    empty = api.post(appeal, rider, json={"reason": "  "})
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "reason"

    sent = api.post(appeal, rider, json={"reason": "三次是三处不同的垃圾堆"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["state"] == "pending" and sent.json()["points"] == 10
    again = api.post(appeal, rider, json={"reason": "再说一次"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "appealed_already"
    assert next(h for h in history(api, rider) if h["id"] == line["id"])["appeal"]["state"] == "pending"
    assert "申诉待处理" in api.get("/points", rider).text

    # Staff see it waiting, on their queue and their list; staff of another community do not
    assert "有 1 条扣分申诉待处理" in api.get("/staff/queue", staff).text
    listed = api.get("/staff/appeals", staff).text
    assert "三次是三处不同的垃圾堆" in listed and f"rider-{rider.phone[-4:]}" in listed and "10 积分" in listed
    other = new_community(api)
    assert api.get("/api/v1/staff/appeals", other.staff).json() == []
    waiting = api.get("/api/v1/staff/appeals", staff).json()
    assert [a["member_id"] for a in waiting] == [rider.id]
    assert api.post(f"/api/v1/staff/appeals/{waiting[0]['id']}", other.staff, json={"grant": True}).status_code == 404

    granted = api.post(f"/staff/appeals/{waiting[0]['id']}/grant", staff, data={"note": ""}, follow_redirects=False)
    assert granted.status_code == 303 and granted.headers["location"].endswith("done=appeal_granted")
    assert api.balance(rider)["spendable"] == 49
    page = api.get("/points", rider).text
    assert "申诉成立" in page and "退回扣分:恶意重复刷报" in page, page[-1500:]
    twice = api.post(f"/api/v1/staff/appeals/{waiting[0]['id']}", staff, json={"grant": True})
    assert twice.status_code == 409 and api.balance(rider)["spendable"] == 49  # decided once, given back once
    assert api.get("/staff/appeals", staff).text.count("三次是三处不同的垃圾堆") == 0

    # A member with nothing left owes the penalty; their appeal from the page, refused with a note they read
    owed = penalised(api, broke, -900)
    assert api.balance(broke)["debt"] == 10
    page = api.get("/points", broke).text
    assert "对此扣分申诉" in page and f'action="/points/{owed["id"]}/appeal"' in page
    sent = api.post(f"/points/{owed['id']}/appeal", broke, data={"reason": "我只报了一次"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].endswith("done=penalty_appealed")
    waiting = api.get("/api/v1/staff/appeals", staff).json()
    decided = api.post(f"/api/v1/staff/appeals/{waiting[0]['id']}", staff,
                       json={"grant": False, "note": "照片是同一处"})
    assert decided.status_code == 200 and decided.json()["state"] == "refused"
    assert "申诉未通过: 照片是同一处" in api.get("/points", broke).text
    assert api.balance(broke)["debt"] == 10


def test_a_penalty_is_appealed_within_the_schemes_days(api, community):
    rider = community.riders[1]
    line = penalised(api, rider, 300)
    with clock_moved(8 * 24):  # the default scheme takes appeals within 7 days
        rider = signed_in(rider.id, "rider", community.id)  # a new session: the week-old one has ended
        late = api.post(f"/api/v1/me/history/{line['id']}/appeal", rider, json={"reason": "晚了"})
        assert late.status_code == 409 and late.json()["error"]["code"] == "appeal_too_late"
        assert late.json()["error"]["days"] == 7
        assert next(h for h in history(api, rider) if h["id"] == line["id"])["appeal"]["open"] is False
        assert "对此扣分申诉" not in api.get("/points", rider).text
