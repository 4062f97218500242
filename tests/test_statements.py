"""What a member's page costs the database: each answer says how many SQL statements it took
(``Server-Timing: sql;desc="N statements"``), and the pages a rider opens most stay within their budget however
many reports, orders and points lines the member has (the home page: the member and balance, the last reports, their
photos, their grids and cases, the month's standing, the news, the points about to expire (2), the orders to pick
up)."""

from __future__ import annotations

import re

import pytest

from conftest import LEG, grant, near, photo

pytestmark = pytest.mark.not_calendar  # counts statements, whatever the day


def statements(response) -> int:
    return int(re.fullmatch(r'sql;desc="(\d+) statements"', response.headers["server-timing"]).group(1))


# What each page may cost at most; the same however long the member's history (the test adds to it and counts again)
BUDGET = {"/": 8, "/api/v1/me": 1, "/api/v1/me/history": 3, "/submissions": 2, "/points": 5, "/orders": 1}


@pytest.mark.skipif(LEG == "postgres", reason="the production leg keeps a member's views between changes (a repeat "
                    "costs no statement at all, when the change feed has been heard): counted where each is read")
def test_a_riders_pages_are_read_in_a_few_statements_however_long_their_history(api, community):
    rider, staff = community.riders[0], community.staff
    made = api.post("/api/v1/staff/shop/rewards", staff, json={
        "code": "r.statements", "name_zh": "毛巾", "name_en": "Towel", "kind": "goods", "price": 1, "stock": 100})
    assert made.status_code == 201, made.text
    costs = []
    for round_ in range(2):
        for n in range(4):  # more reports, points lines and orders each round
            assert api.submit(rider, "order.streetlight_broken", [photo()],
                              **near(metres_north=300 * (round_ * 4 + n + 1))).status_code == 201
            grant(community.id, rider.id, 5)
            ordered = api.post("/api/v1/shop/orders", rider, json={"reward": made.json()["id"]})
            assert ordered.status_code == 201, ordered.text
        assert api.get("/", rider).status_code == 200  # the news since the last visit, told once
        costs.append({path: statements(api.get(path, rider)) for path in BUDGET})
    assert costs[0] == costs[1], costs  # flat: the same statements with twice the history
    over = {path: n for path, n in costs[1].items() if n > BUDGET[path]}
    assert not over, f"over budget: {over} (budget {BUDGET})"
