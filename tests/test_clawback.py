"""Four-eyes approval of large awards, clawback of awards (with debt when the points are spent) and
staff deductions (T14, T22)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import PASSWORD, grant, near, new_phone, run
from points.infra.db import sql
from points.people import members

BIG = "hazard.flammables_in_dwelling"  # 80 points: over the default scheme's second_approval_over = 50


@pytest.fixture
def second_staff(api, community):
    phone = new_phone()
    run(members.create_member(community.id, "staff", "第二位社工", phone, PASSWORD))
    return api.user(phone)


def counts(sid: int) -> tuple[int, int]:
    transfers = run(sql("SELECT COUNT(*) AS n FROM transfer WHERE ref = {}", f"submission:{sid}"))[0]["n"]
    audits = run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE object_id = {} AND object_type = 'submission'",
                     str(sid)))[0]["n"]
    return transfers, audits


def big_report(api, rider, jpeg) -> int:
    response = api.submit(rider, BIG, [jpeg], description="楼道内堆放煤气罐", **near())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_big_award_needs_two_different_approvers(api, community, second_staff, jpeg):
    rider, staff = community.riders[0], community.staff
    sid = big_report(api, rider, jpeg)
    first = api.verify(staff, sid)
    assert first.status_code == 200 and first.json()["status"] == "awaiting_second"
    assert first.json()["outcome"]["code"] == "awaiting_second"
    twice = api.verify(staff, sid)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "second_approver_needed"
    assert counts(sid)[0] == 0  # no points move before the second approval
    assert api.submission(rider, sid)["status"] == "awaiting_second"
    queue = api.get("/api/v1/staff/submissions?status=awaiting_second", second_staff).json()
    assert sid in [s["id"] for s in queue]

    second = api.verify(second_staff, sid)
    assert second.status_code == 200 and second.json()["status"] == "verified"
    assert api.wait_awarded(rider, sid)["points"] == 80
    assert counts(sid)[1] == 2  # one audit row per approval


def test_the_reporter_never_approves_their_own_report(api, community, second_staff, jpeg):
    """A report by a staff member (made theirs here in the database) gets neither approval from them."""
    rider = community.riders[0]
    sid = big_report(api, rider, jpeg)
    run(sql("UPDATE submission SET member = {} WHERE id = {} RETURNING id", second_staff.id, sid))
    refused = api.verify(second_staff, sid)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_verification"
    assert api.verify(community.staff, sid).json()["status"] == "awaiting_second"
    assert api.verify(second_staff, sid).status_code == 403
    assert counts(sid)[0] == 0


def award(api, rider, staff, jpeg) -> int:
    response = api.submit(rider, "order.streetlight_broken", [jpeg], **near())
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    assert api.verify(staff, sid).status_code == 200
    api.wait_awarded(rider, sid)
    return sid


def original_award(sid: int) -> list[dict]:
    return run(sql("SELECT * FROM transfer WHERE idempotency_key LIKE {} ORDER BY id", f"award:submission:{sid}%"))


def test_reversal_with_points_unspent_and_twice(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    sid = award(api, rider, staff, jpeg)
    points = api.submission(rider, sid)["points"]
    before = original_award(sid)
    reversed_ = api.post(f"/api/v1/staff/submissions/{sid}/reverse", staff, json={"reason": "false_report",
                                                                                   "note": "现场无此问题"})
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json() == {"reversed": points, "from_balance": points, "to_debt": 0, "already": False}
    assert api.balance(rider) == {"spendable": 0, "lifetime": 0, "debt": 0}
    assert api.submission(rider, sid)["outcome"]["code"] == "reversed"
    again = api.post(f"/api/v1/staff/submissions/{sid}/reverse", staff, json={"reason": "false_report"})
    assert again.status_code == 200 and again.json()["already"] is True
    assert api.balance(rider) == {"spendable": 0, "lifetime": 0, "debt": 0}
    assert original_award(sid) == before  # never edited
    audits = run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE action = 'submission.reverse' "
                     "AND object_id = {}", str(sid)))
    assert audits[0]["n"] == 1


def test_reversal_of_spent_points_leaves_a_debt_the_next_award_settles(api, community, jpeg):
    rider, staff = community.riders[1], community.staff
    sid = award(api, rider, staff, jpeg)
    points = api.submission(rider, sid)["points"]
    spent = points - 3
    # Spend most of it: a test grant would hide the debt, so move points out the way the shop does.
    from points.infra import db
    from points.ledger import transfers as ledger
    from points.ledger.transfers import TransferSpec

    ids = run(ledger.accounts_by_key([f"spendable:member:{rider.id}", f"issuance:community:{community.id}"]))
    run(db.write(lambda: ledger.post([TransferSpec(f"test:spend:{sid}", ids[f"spendable:member:{rider.id}"],
                                                   ids[f"issuance:community:{community.id}"], spent, "test_spend",
                                                   "spent in a test", "test")])))
    reversed_ = api.post(f"/api/v1/staff/submissions/{sid}/reverse", staff, json={"reason": "duplicate"}).json()
    assert (reversed_["from_balance"], reversed_["to_debt"]) == (3, spent)
    assert api.balance(rider) == {"spendable": 0, "lifetime": 0, "debt": spent}

    later = award(api, rider, staff, jpeg)
    earned = api.submission(rider, later)["points"]
    settled = min(earned, spent)
    assert api.balance(rider) == {"spendable": earned - settled, "lifetime": earned, "debt": spent - settled}
    history = api.get("/api/v1/me/history", rider).json()
    assert [h["code"] for h in history[:2]] == ["settle", "award"]


def test_only_awarded_reports_in_scope_can_be_reversed(api, community, make_community, jpeg):
    rider, staff = community.riders[0], community.staff
    pending = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()["id"]
    refused = api.post(f"/api/v1/staff/submissions/{pending}/reverse", staff, json={"reason": "fraud"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_awarded"
    bad = api.post(f"/api/v1/staff/submissions/{pending}/reverse", staff, json={"reason": "because"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "reason"
    sid = award(api, rider, staff, jpeg)
    other = make_community()
    before = counts(sid)
    assert api.post(f"/api/v1/staff/submissions/{sid}/reverse", other.staff,
                    json={"reason": "fraud"}).status_code == 404
    assert counts(sid) == before


def test_a_deduction_takes_points_then_debt_once_per_key(api, community):
    resident, staff = community.residents[0], community.staff
    grant(community.id, resident.id, 20)
    key = {"Idempotency-Key": f"deduct-{uuid.uuid4().hex}"}
    url = f"/api/v1/staff/members/{resident.id}/deductions"
    body = {"item": "penalty.false_report", "note": "故意虚报"}
    first = api.post(url, staff, json=body, headers=key)
    assert first.status_code == 200, first.text
    assert first.json() == {"points": -50, "from_balance": 20, "to_debt": 30, "already": False}
    assert api.post(url, staff, json=body, headers=key).json()["already"] is True
    assert api.balance(resident) == {"spendable": 0, "lifetime": 0, "debt": 30}
    other = api.post(url, staff, json={**body, "item": "penalty.no_show"}, headers=key)
    assert other.status_code == 422
    not_a_deduction = api.post(url, staff, json={**body, "item": "order.streetlight_broken"},
                               headers={"Idempotency-Key": f"deduct-{uuid.uuid4().hex}"})
    assert not_a_deduction.status_code == 400 and not_a_deduction.json()["error"]["field"] == "item"
    no_key = api.post(url, staff, json=body)
    assert no_key.status_code == 400


def test_concurrent_retries_of_one_deduction_take_it_once(api, community):
    """Ten POSTs of one Idempotency-Key at once: one deduction, one audit row, the same answer to each."""
    resident, staff = community.residents[1], community.staff
    grant(community.id, resident.id, 20)
    key = {"Idempotency-Key": f"deduct-{uuid.uuid4().hex}"}
    url = f"/api/v1/staff/members/{resident.id}/deductions"
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: api.post(url, staff, json={"item": "penalty.false_report", "note": "虚报"},
                                                   headers=key), range(10)))
    assert {r.status_code for r in answers} == {200}
    bodies = [r.json() for r in answers]
    assert sorted(b["already"] for b in bodies) == [False] + [True] * 9
    assert {(b["points"], b["from_balance"], b["to_debt"]) for b in bodies} == {(-50, 20, 30)}
    assert api.balance(resident) == {"spendable": 0, "lifetime": 0, "debt": 30}
    audits = run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE action = 'member.deduct' AND object_id = {}",
                     str(resident.id)))[0]["n"]
    assert audits == 1


def test_points_held_in_an_order_come_back_to_pay_a_debt(api, community):
    """A rider holds points in orders, staff deduct, the rider cancels: the points pay the debt, not the rider."""
    from conftest import ROOT
    from points.shop import rewards
    from rules.catalogue import load_catalogue

    rider, staff = community.riders[0], community.staff
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    meal = run(sql("SELECT id FROM reward WHERE community = {} AND code = 'r.meal_voucher'", community.id))[0]["id"]
    grant(community.id, rider.id, 100)
    orders = [api.post("/api/v1/shop/orders", rider, json={"reward": meal}).json() for _ in range(2)]
    assert api.balance(rider)["spendable"] == 0
    deducted = api.post(f"/api/v1/staff/members/{rider.id}/deductions", staff,
                        json={"item": "penalty.false_report", "note": "虚报"},
                        headers={"Idempotency-Key": f"deduct-{uuid.uuid4().hex}"}).json()
    assert (deducted["from_balance"], deducted["to_debt"]) == (0, 50)
    assert api.post(f"/api/v1/shop/orders/{orders[0]['id']}/cancel", rider).status_code == 200
    assert api.balance(rider) == {"spendable": 0, "lifetime": 0, "debt": 0}  # the 50 came back to the debt
    assert api.post(f"/api/v1/shop/orders/{orders[1]['id']}/cancel", rider).status_code == 200
    assert api.balance(rider) == {"spendable": 50, "lifetime": 0, "debt": 0}  # nothing owed: back to spend
    history = api.get("/api/v1/me/history", rider).json()
    assert [h["code"] for h in history[:3]] == ["redeem_void", "settle", "redeem_void"]
