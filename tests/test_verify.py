"""Staff verification: scope, reasons, re-classification, and the audit row each decision writes."""

from __future__ import annotations

import json

from conftest import near, run
from points.tables import AuditEvent, Transfer


def audit_rows(object_id: int) -> list[dict]:
    return run(AuditEvent.select().where((AuditEvent.object_type == "submission")
                                         & (AuditEvent.object_id == str(object_id))).order_by(AuditEvent.id))


def test_staff_of_another_community_gets_404_and_changes_nothing(api, make_community, jpeg):
    home, elsewhere = make_community(), make_community()
    report = api.submit(home.riders[0], "order.streetlight_broken", [jpeg], **near()).json()
    outsider = elsewhere.staff
    assert api.verify(outsider, report["id"]).status_code == 404
    assert api.reject(outsider, report["id"], "false").status_code == 404
    assert api.get(f"/api/v1/submissions/{report['id']}", outsider).status_code == 404
    assert report["id"] not in [s["id"] for s in api.get("/api/v1/staff/submissions", outsider).json()]
    assert api.submission(home.riders[0], report["id"])["status"] == "submitted"
    assert audit_rows(report["id"]) == []
    assert run(Transfer.count().where(Transfer.ref == f"submission:{report['id']}")) == 0


def test_members_cannot_use_the_staff_queue(api, community, jpeg):
    rider = community.riders[0]
    report = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()
    assert api.get("/api/v1/staff/submissions", rider).status_code == 403
    assert api.verify(rider, report["id"]).status_code == 403
    assert api.verify(community.riders[1], report["id"]).status_code == 403
    assert api.get(f"/api/v1/submissions/{report['id']}", community.riders[1]).status_code == 404


def test_reject_with_a_reason_the_member_sees(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    report = api.submit(rider, "order.garbage_pileup", [jpeg], **near()).json()
    rejected = api.reject(staff, report["id"], "unclear", "照片太暗,看不清")
    assert rejected.status_code == 200, rejected.text
    seen = api.submission(rider, report["id"])
    assert seen["status"] == "rejected" and seen["points"] is None
    assert seen["outcome"]["code"] == "rejected.unclear"
    assert seen["outcome"]["message_zh"] == "证据不清" and seen["outcome"]["note"] == "照片太暗,看不清"
    assert [(r["action"], r["actor"]) for r in audit_rows(report["id"])] == [("submission.reject", staff.id)]
    again = api.verify(staff, report["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    assert len(audit_rows(report["id"])) == 1
    assert api.balance(rider)["spendable"] == 0


def test_unknown_reject_reason_is_a_400_naming_the_field(api, community, jpeg):
    report = api.submit(community.riders[0], "order.garbage_pileup", [jpeg], **near()).json()
    response = api.reject(community.staff, report["id"], "because")
    assert response.status_code == 400 and response.json()["error"]["field"] == "reason"
    unknown_field = api.post(f"/api/v1/staff/submissions/{report['id']}/verify", community.staff,
                             json={"item": "order.garbage_pileup", "points": 999})
    assert unknown_field.status_code == 400 and unknown_field.json()["error"]["field"] == "points"


def test_reclassify_on_verification(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    report = api.submit(rider, "order.garbage_pileup", [jpeg], **near()).json()
    bad = api.verify(staff, report["id"], item="order.noise_nuisance")  # residents only
    assert bad.status_code == 403 and bad.json()["error"]["field"] == "item"
    unknown = api.verify(staff, report["id"], item="order.nothing")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "item"
    response = api.verify(staff, report["id"], item="order.sewage_dumping", note="实为污水乱排")
    assert response.status_code == 200, response.text
    awarded = api.wait_awarded(rider, report["id"])
    assert awarded["item"]["id"] == "order.sewage_dumping"
    assert awarded["claimed_item_id"] == "order.garbage_pileup"
    assert awarded["points"] == 10
    [row] = audit_rows(report["id"])
    assert row["action"] == "submission.reclassify"
    details = row["details"] if isinstance(row["details"], dict) else json.loads(row["details"])
    assert details["from_item"] == "order.garbage_pileup" and details["to_item"] == "order.sewage_dumping"


def test_queue_is_oldest_first_with_urgent_items_ahead(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    ordinary = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()
    urgent = api.submit(rider, "hazard.manhole_missing", [jpeg], **near(metres_north=100)).json()
    queue = [s["id"] for s in api.get("/api/v1/staff/submissions", staff).json()]
    assert queue == [urgent["id"], ordinary["id"]]
    assert api.get("/api/v1/staff/submissions?status=bogus", staff).status_code == 400


def test_a_rider_promoted_to_staff_cannot_verify_their_own_report(api, community, jpeg):
    from points.tables import Member

    rider = community.riders[0]
    report = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()
    run(Member.update({Member.role: "staff"}).where(Member.id == rider.id))
    own = api.verify(rider, report["id"])
    assert own.status_code == 403 and own.json()["error"]["code"] == "self_verification"
    assert api.reject(rider, report["id"], "false").status_code == 403
    assert api.submission(community.staff, report["id"])["status"] == "submitted"
    assert audit_rows(report["id"]) == []
    assert api.verify(community.staff, report["id"]).status_code == 200
