"""Honours: star levels from lifetime points, and the monthly honour board."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from conftest import near, photo, run
from points import clock
from points.areas import schemes
from points.infra import db
from points.ledger import honours
from points.ledger import transfers as ledger
from points.ledger.transfers import (
    LIFETIME,
    LIFETIME_ISSUANCE,
    TransferSpec,
    community_account_key,
    member_account_key,
)
from points.tables import AuditEvent, HonourBoard

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


def lifetime_grant(community_id: int, member_id: int, points: int) -> None:
    keys = [community_account_key(LIFETIME_ISSUANCE, community_id), member_account_key(LIFETIME, member_id)]
    ids = run(ledger.accounts_by_key(keys))
    run(db.write(lambda: ledger.post([TransferSpec(f"test:lifetime:{member_id}", ids[keys[0]], ids[keys[1]],
                                                   points, "test_grant", "earlier years", "test")])))


def earn(api, member, item: str, count: int, offset: int = 0) -> None:
    """Auto-accepted reports (each with a new picture): awarded without staff."""
    for n in range(count):
        report = api.submit(member, item, [photo()], **near(metres_north=100 * (n + offset))).json()
        api.wait_awarded(member, report["id"])


def test_a_promotion_shows_on_the_member_and_in_the_audit_log(api, community):
    rider = community.riders[0]
    lifetime_grant(community.id, rider.id, 295)
    me = api.get("/api/v1/me", rider).json()
    assert me["stars"] == {"level": 0, "next_at": 300}
    earn(api, rider, "order.illegal_ads", 1)  # 5 points: 300 lifetime
    me = api.get("/api/v1/me", rider).json()
    assert me["stars"] == {"level": 1, "next_at": 1000}
    assert me["balance"] == {"spendable": 5, "lifetime": 300, "debt": 0}  # a star costs nothing
    [row] = run(AuditEvent.select().where((AuditEvent.action == "member.promote")
                                          & (AuditEvent.object_id == str(rider.id))))
    details = row["details"] if isinstance(row["details"], dict) else json.loads(row["details"])
    assert (details["stars_from"], details["stars_to"], row["actor"]) == (0, 1, None)
    earn(api, rider, "order.street_vending", 1, offset=10)
    assert run(AuditEvent.count().where((AuditEvent.action == "member.promote")
                                        & (AuditEvent.object_id == str(rider.id)))) == 1


def test_stars_follow_the_thresholds():
    rules = schemes.current()
    assert [honours.stars(rules, p) for p in (0, 299, 300, 999, 1000, 9999, 10000, 10**6)] == [0, 0, 1, 1, 2, 4, 5, 5]
    assert honours.next_star(rules, 10000) is None


def test_the_board_ranks_by_points_this_month_ties_to_the_first(api, community):
    first, second, third = community.riders[0], community.riders[1], community.residents[0]
    earn(api, first, "order.illegal_ads", 2)           # 10, reached first
    earn(api, second, "order.street_vending", 2, 20)   # 10, reached later
    earn(api, third, "order.ebike_misparked", 1, 40)   # 5
    board = api.get("/api/v1/honours/board", third).json()
    assert [(b["rank"], b["member"], b["points"]) for b in board] == [(1, first.id, 10), (2, second.id, 10),
                                                                      (3, third.id, 5)]
    assert all(b["name"].endswith("*") and "rider" not in b["name"][1:] for b in board)
    assert api.get("/api/v1/honours/board?month=2026-13", third).status_code == 400
    assert api.get("/api/v1/honours/board").status_code == 401


def test_a_partners_token_earns_for_the_partner_and_never_takes_a_place_on_the_board(api, community):
    from client import User
    from conftest import PASSWORD, new_phone
    from points.people import members

    phone = new_phone()
    run(members.create_member(community.id, "admin", "管理员", phone, PASSWORD))
    issued = api.post("/api/v1/admin/tokens", api.user(phone), json={"name": "12345热线", "community_id": community.id,
                                                                    "role": "resident"}).json()
    partner = User(issued["id"], "resident", "", None, None, community.id, bearer=issued["token"])
    earn(api, partner, "order.illegal_ads", 3)  # 15 points, more than anyone
    earn(api, community.riders[0], "order.street_vending", 1, 20)
    assert api.get("/api/v1/me", partner).json()["balance"]["spendable"] == 15
    board = api.get("/api/v1/honours/board", community.riders[0]).json()
    assert [(b["rank"], b["member"], b["points"]) for b in board] == [(1, community.riders[0].id, 5)]


def test_a_finished_month_is_kept_once(api, community):
    rider = community.riders[0]
    earn(api, rider, "order.illegal_ads", 1)
    rules = schemes.current()
    this_month = honours.month_of(rules, clock.now())
    local = clock.now().astimezone(rules.tz)  # the scheme's month, not UTC's: the first hour of the next one
    next_month = (local.replace(day=1, hour=1, minute=0) + timedelta(days=32)).replace(day=1)
    assert run(honours.keep_last_month(rules, now=next_month)) >= 1
    kept = run(HonourBoard.select().where((HonourBoard.community == community.id)
                                          & (HonourBoard.month == this_month)))
    assert [(k["rank"], k["member"], k["points"]) for k in kept] == [(1, rider.id, 5)]
    assert run(honours.keep_last_month(rules, now=next_month)) == 0
    earn(api, rider, "order.street_vending", 1, offset=10)  # after the month was kept
    board = api.get(f"/api/v1/honours/board?month={this_month}", rider).json()
    assert [(b["member"], b["points"]) for b in board] == [(rider.id, 5)]  # as it stood


def test_the_months_of_an_older_database_are_filled_in_from_its_awards(tmp_path):
    """Awards made before the board kept months: each lands in its month of the scheme's calendar (an award at
    01:00 on 1 December in Shanghai is December's, though it is still 30 November in UTC)."""
    import sqlite3

    from harness import older_database

    to_head = older_database(tmp_path, "2026-11-30T02:00:00:000000")
    with sqlite3.connect(tmp_path / "jifen.sqlite3") as db:
        db.execute("INSERT INTO community (code, name, name_en, residents_need_approval, created_at) "
                   "VALUES ('old', '老社区', 'Old', 0, '2026-11-01T00:00:00+00:00')")
        db.execute("INSERT INTO member (community, role, name, phone, password_hash, status, created_at) "
                   "VALUES (1, 'rider', '骑手', '+8613900000001', 'x', 'active', '2026-11-01T00:00:00+00:00')")
        db.execute("INSERT INTO account (key, kind, member, community, balance) VALUES "
                   "('issuance:community:1', 'issuance', NULL, 1, -30), ('spendable:member:1', 'spendable', 1, 1, 30)")
        for n, (amount, at) in enumerate(((10, "2026-11-30T15:00:00+00:00"), (20, "2026-11-30T17:00:00+00:00"))):
            db.execute("INSERT INTO transfer (idempotency_key, debit_account, credit_account, amount, code, reason, ref, "
                       "rules_version, created_at) VALUES (?, 1, 2, ?, 'award', 'r', ?, '', ?)",
                       (f"award:submission:{n}", amount, f"submission:{n}", at))
    to_head()
    with sqlite3.connect(tmp_path / "jifen.sqlite3") as db:
        months = db.execute("SELECT key, month, points FROM month_points ORDER BY month").fetchall()
    assert months == [("1:2026-11:1", "2026-11", 10), ("1:2026-12:1", "2026-12", 20)]
