"""Caps and the first-reporter rule, as the default rules file sets them."""

from __future__ import annotations

import pytest

from conftest import near

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


def report_and_verify(api, member, staff, item, jpeg, count=1, **fields):
    ids = []
    for n in range(count):
        location = {} if "grid" in fields else near(metres_north=200 * n)
        response = api.submit(member, item, [jpeg], **{**location, **fields})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for sid in ids:
        assert api.verify(staff, sid).status_code == 200
    return [api.wait_awarded(member, sid) for sid in ids]


def outcomes(awarded):
    return [(s["points"], (s["outcome"] or {}).get("code")) for s in awarded]


def test_item_daily_cap_records_zero_with_the_reason(api, community, jpeg):
    # order.streetlight_broken: 10 points, at most 3 a day.
    awarded = report_and_verify(api, community.riders[0], community.staff, "order.streetlight_broken", jpeg, 4)
    assert outcomes(awarded) == [(10, None)] * 3 + [(0, "cap.item_daily")]
    assert awarded[3]["outcome"]["message_zh"] == "已达该事项每日上限"
    assert api.balance(community.riders[0])["spendable"] == 30


def test_daily_points_cap_gives_what_room_is_left(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    fields = {"description": "现场情况"}
    first = report_and_verify(api, rider, staff, "hazard.fire_exit_blocked", jpeg, 2, **fields)  # 2 × 50
    second = report_and_verify(api, rider, staff, "hazard.billboard_loose", jpeg, 1, **fields)  # 40 → 140
    third = report_and_verify(api, rider, staff, "hazard.electric_exposed", jpeg, 1, **fields)  # 40, 10 left
    fourth = report_and_verify(api, rider, staff, "order.facility_damaged", jpeg, 1, **fields)  # 10, none left
    assert outcomes(first + second) == [(50, None), (50, None), (40, None)]
    assert outcomes(third) == [(10, "cap.daily")]
    assert outcomes(fourth) == [(0, "cap.daily")]
    assert api.balance(rider) == {"spendable": 150, "lifetime": 150, "debt": 0}


def test_category_cap_and_per_unit_items(api, community, jpeg):
    resident, staff = community.residents[0], community.staff
    fields = {"description": "活动记录"}
    hours = report_and_verify(api, resident, staff, "service.volunteer_hour", jpeg, 3, units=2, grid="G1", **fields)
    assert outcomes(hours) == [(20, None), (20, None), (0, "cap.item_daily")]  # 4 hours a day
    more = report_and_verify(api, resident, staff, "service.emergency_assist", jpeg, 1, grid="G1", **fields)
    assert outcomes(more) == [(50, None)]  # service so far: 90 of its 100 a day
    capped = report_and_verify(api, resident, staff, "service.elderly_help", jpeg, 1, grid="G1", **fields)
    assert outcomes(capped) == [(10, "cap.category_daily")]


def test_only_the_first_reporter_earns(api, community, jpeg):
    first_rider, second_rider, staff = community.riders[0], community.riders[1], community.staff
    first = api.submit(first_rider, "order.garbage_pileup", [jpeg], **near()).json()
    close = api.submit(second_rider, "order.garbage_pileup", [jpeg], **near(metres_north=30)).json()
    far = api.submit(second_rider, "order.garbage_pileup", [jpeg], **near(metres_north=80)).json()
    other_item = api.submit(second_rider, "order.road_spill", [jpeg], **near(metres_north=10)).json()
    assert close["duplicate_of"] == first["id"]
    assert far["duplicate_of"] is None and other_item["duplicate_of"] is None
    for sid in (close["id"], first["id"], far["id"], other_item["id"]):
        assert api.verify(staff, sid).status_code == 200
    assert api.wait_awarded(first_rider, first["id"])["points"] == 10
    dup = api.wait_awarded(second_rider, close["id"])
    assert (dup["points"], dup["outcome"]["code"]) == (0, "duplicate")
    assert api.wait_awarded(second_rider, far["id"])["points"] == 10
    assert api.wait_awarded(second_rider, other_item["id"])["points"] == 10


def test_a_second_report_of_ones_own_problem_is_not_called_someone_elses(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    first = api.submit(rider, "order.road_spill", [jpeg], **near(metres_north=400)).json()
    again = api.submit(rider, "order.road_spill", [jpeg], **near(metres_north=410)).json()
    assert again["duplicate_of"] == first["id"]
    for sid in (first["id"], again["id"]):
        assert api.verify(staff, sid).status_code == 200
    assert api.wait_awarded(rider, first["id"])["points"] == 10
    dup = api.wait_awarded(rider, again["id"])
    assert (dup["points"], dup["outcome"]["code"]) == (0, "duplicate_own")
    assert dup["outcome"]["message_zh"] == "您已报过这个问题,仅首报得分" and "他人" not in dup["outcome"]["message_zh"]


def test_a_rejected_first_report_does_not_block_the_next(api, community, jpeg):
    first_rider, second_rider, staff = community.riders[0], community.riders[1], community.staff
    first = api.submit(first_rider, "order.greenery_damage", [jpeg], **near()).json()
    second = api.submit(second_rider, "order.greenery_damage", [jpeg], **near(metres_east=10)).json()
    assert second["duplicate_of"] == first["id"]
    assert api.reject(staff, first["id"], "false").status_code == 200
    assert api.verify(staff, second["id"]).status_code == 200
    assert api.wait_awarded(second_rider, second["id"])["points"] == 10


def test_monthly_caps_from_what_the_month_has_used():
    """The award decision on its own (pure): a month's earlier awards leave this much room."""
    from datetime import date

    from points.areas.schemes import current
    from points.reports.awards import Candidate, Decision, Usage, decide

    rules = current()
    today = date(2026, 11, 23)
    usage = Usage()
    for day in range(1, 11):  # ten days of streetlight reports: the item's monthly cap is 30 reports
        usage.add(1, "order.streetlight_broken", "order", date(2026, 11, day), 3, 30)
    assert decide(rules, [Candidate(1, 1, 1, "order.streetlight_broken", 1, today)], usage, {}) == [
        Decision(1, 0, "cap.item_monthly")]

    usage = Usage()
    usage.add(2, "hazard.fire_exit_blocked", "hazard", date(2026, 11, 2), 20, 1180)  # 20 left of 1200
    assert decide(rules, [Candidate(2, 2, 1, "hazard.fire_exit_blocked", 1, today)], usage, {}) == [
        Decision(2, 20, "cap.monthly")]
    # A new month starts afresh.
    assert decide(rules, [Candidate(3, 2, 1, "hazard.fire_exit_blocked", 1, date(2026, 12, 1))], usage, {}) == [
        Decision(3, 50, "")]
