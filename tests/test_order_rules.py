"""The shop's rules for one batch of orders, decided without a database (`points.shop.orders.decide`): stock,
price, per-member limits and their periods, who may order, the offer window, and replays by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from points.errors import DomainError
from points.scope import Actor
from points.shop.orders import _REPLAY, Shelf, _Ask, decide

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 December in Shanghai


def reward(rid: int = 1, stock: int = 5, price: int = 100, limit: int | None = None, period: str | None = None,
           roles: str = "rider,resident", **extra) -> dict:
    return {"id": rid, "community": 1, "stock": stock, "price": price, "limit_count": limit, "limit_period": period,
            "roles": roles, "active": True, "available_from": None, "available_until": None, "name_zh": "奖品",
            "name_en": "prize", **extra}


def ask(member: int, rid: int = 1, key: str | None = None, role: str = "rider") -> _Ask:
    return _Ask(Actor(member, role, 1, "", "active"), rid, key, TZ, 7)


def codes(outcomes) -> list[str]:
    return [o.code if isinstance(o, DomainError) else "replay" if o == _REPLAY else "placed" for o in outcomes]


def test_stock_goes_to_the_first_in_arrival_order():
    shelf = Shelf({1: reward(stock=2)}, {7: 1000, 8: 1000, 9: 1000}, {}, set())
    assert codes(decide([ask(9), ask(7), ask(8)], shelf, NOW)) == ["placed", "placed", "sold_out"]
    assert shelf.rewards[1]["stock"] == 0 and shelf.balances == {7: 900, 8: 1000, 9: 900}


def test_a_balance_is_spent_once_across_the_batch():
    shelf = Shelf({1: reward(price=120), 2: reward(rid=2, price=120)}, {7: 130}, {}, set())
    outcomes = decide([ask(7, 1), ask(7, 2)], shelf, NOW)
    assert codes(outcomes) == ["placed", "insufficient_points"]
    assert (outcomes[1].extra["balance"], outcomes[1].extra["price"]) == (10, 120)


def test_a_limit_counts_this_period_and_says_when_it_resets():
    shelf = Shelf({1: reward(limit=2, period="month")}, {7: 1000}, {(7, 1, "2026-12"): 1}, set())
    outcomes = decide([ask(7), ask(7)], shelf, NOW)
    assert codes(outcomes) == ["placed", "limit_reached"]
    assert outcomes[1].extra["resets_at"] == "2027-01-01T00:00:00+08:00"  # Shanghai's new year, not UTC's
    assert outcomes[0]["period"] == "2026-12"


def test_quarters_and_years_turn_in_the_schemes_zone():
    shelf = Shelf({1: reward(limit=1, period="quarter"), 2: reward(rid=2, limit=1, period="year")}, {7: 1000}, {},
                  set())
    placed = decide([ask(7, 1), ask(7, 2)], shelf, NOW)
    assert [o["period"] for o in placed] == ["2026-Q4", "2026"]
    leap = datetime(2028, 2, 29, 16, 30, tzinfo=UTC)  # 1 March 00:30 in Shanghai
    assert decide([ask(8, 1)], Shelf({1: reward(limit=1, period="month")}, {8: 1000}, {}, set()), leap)[0][
        "period"] == "2028-03"


def test_who_may_order_and_when():
    window = reward(available_from=NOW + timedelta(days=1))
    closed = reward(rid=2, available_until=NOW)
    riders_only = reward(rid=3, roles="rider")
    withdrawn = reward(rid=4, active=False)
    shelf = Shelf({1: window, 2: closed, 3: riders_only, 4: withdrawn}, {7: 1000, 8: 1000}, {}, set())
    outcomes = decide([ask(7, 1), ask(7, 2), ask(8, 3, role="resident"), ask(7, 4)], shelf, NOW)
    assert codes(outcomes) == ["not_available_yet", "no_longer_available", "not_eligible", "not_available"]
    assert shelf.balances == {7: 1000, 8: 1000}


def test_a_key_seen_before_or_earlier_in_the_batch_is_a_replay():
    shelf = Shelf({1: reward()}, {7: 1000}, {}, {"7:done-before"})
    outcomes = decide([ask(7, key="7:done-before"), ask(7, key="7:new-key"), ask(7, key="7:new-key")], shelf, NOW)
    assert codes(outcomes) == ["replay", "placed", "replay"]
    assert shelf.balances[7] == 900 and shelf.rewards[1]["stock"] == 4


def test_an_order_waits_the_schemes_pickup_days():
    [order] = decide([ask(7)], Shelf({1: reward()}, {7: 1000}, {}, set()), NOW)
    assert order["expires_at"] == NOW + timedelta(days=7) and order["status"] == "held"
    assert len(order["pickup_code"]) == 8 and not set(order["pickup_code"]) & set("01OI")
