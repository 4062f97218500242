"""Points expiry: oldest lots first, never held or lifetime points, each lot once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from conftest import ROOT, as_member, grant, near, python, run
from points import clock
from points.areas import schemes
from points.infra import db
from points.ledger import expiry
from points.ledger import transfers as ledger
from points.ledger.transfers import SPENDABLE, TransferSpec, member_account_key
from points.scope import Actor
from points.shop import counter, orders, rewards
from points.tables import Account, Reward
from rules import parse_rules
from rules.catalogue import load_catalogue

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned

DEFAULT = (ROOT / "rules" / "default.toml").read_text()
AFTER_30_DAYS = parse_rules(DEFAULT.replace('policy = "end_of_next_year"', 'policy = "after_days"\ndays = 30'))


def spendable(member_id: int) -> int:
    return run(ledger.balances(as_member(member_id)))[SPENDABLE]


def lots(member_id: int, rules=AFTER_30_DAYS) -> list[expiry.Lot]:
    account = run(Account.select(Account.id).where(Account.key == member_account_key(SPENDABLE, member_id)).first())
    return run(expiry.account_lots(rules, account["id"]))


def spend(community, member, amount: int, ref: str) -> None:
    keys = [member_account_key(SPENDABLE, member.id), ledger.community_account_key(ledger.ISSUANCE, community.id)]
    ids = run(ledger.accounts_by_key(keys))
    run(db.write(lambda: ledger.post([TransferSpec(f"test:spend:{ref}", ids[keys[0]], ids[keys[1]], amount,
                                                   "test_spend", "test", ref)])))


def test_oldest_lots_go_first_and_each_expires_once(community):
    member = community.residents[0]
    grant(community.id, member.id, 100)   # lot A
    grant(community.id, member.id, 50)    # lot B, a moment later
    spend(community, member, 70, f"fifo-{member.id}")  # takes 70 from A
    a, b = lots(member.id)
    assert (a.amount, b.amount) == (30, 50) and a.expires_at < b.expires_at

    # The job expires every member's due lots; this member's balance tells its part.
    run(expiry.expire_points(AFTER_30_DAYS, now=a.expires_at - timedelta(seconds=1)))
    assert spendable(member.id) == 150 - 70
    run(expiry.expire_points(AFTER_30_DAYS, now=a.expires_at))
    assert spendable(member.id) == 50
    assert run(expiry.expire_points(AFTER_30_DAYS, now=a.expires_at)) == 0  # nothing left due: a no-op
    assert spendable(member.id) == 50
    run(expiry.expire_points(AFTER_30_DAYS, now=b.expires_at + timedelta(days=1)))
    assert spendable(member.id) == 0 and lots(member.id) == []


def raincoat_order(community, member, role: str) -> tuple[Actor, dict]:
    """The member is granted 500 points and orders a raincoat (400) from a freshly stocked shop."""
    run(rewards.load_catalogue(community.id, load_catalogue(ROOT / "rules" / "rewards.toml")))
    grant(community.id, member.id, 500)
    raincoat = run(Reward.select(Reward.id).where((Reward.community == community.id)
                                                  & (Reward.code == "r.raincoat")).first())["id"]
    actor = Actor(member.id, role, community.id, "", "active")
    order, _ = run(orders.place_order(actor, raincoat, AFTER_30_DAYS.tz, 7))
    return actor, order


def test_held_points_never_expire_and_come_back_with_their_date(community):
    member = community.riders[0]
    actor, order = raincoat_order(community, member, "rider")
    [lot] = lots(member.id)
    assert lot.amount == 100
    later = lot.expires_at + timedelta(days=1)
    run(expiry.expire_points(AFTER_30_DAYS, now=later))
    assert spendable(member.id) == 0
    assert run(ledger.balances(as_member(member.id))) == {"spendable": 0, "lifetime": 0, "debt": 0}
    run(counter.cancel(actor, order["id"]))
    [back] = lots(member.id)
    assert (back.amount, back.expires_at) == (400, lot.expires_at)  # the original lot's date, not a new one
    assert spendable(member.id) == 400
    run(expiry.expire_points(AFTER_30_DAYS, now=later))
    assert spendable(member.id) == 0


def test_a_cancelled_order_goes_back_into_the_lot_it_came_from(community):
    """The rest of a lot and the part an order held are one lot again, expiring once."""
    member = community.residents[1]
    actor, order = raincoat_order(community, member, "resident")
    run(counter.cancel(actor, order["id"]))
    [lot] = lots(member.id)
    assert lot.amount == 500
    run(expiry.expire_points(AFTER_30_DAYS, now=lot.expires_at + timedelta(days=1)))
    assert spendable(member.id) == 0  # and reconciliation (after every test) finds the books whole


def test_lifetime_points_never_expire(api, community, jpeg):
    rider = community.riders[1]
    report = api.submit(rider, "order.illegal_ads", [jpeg], **near()).json()  # auto-accepted: 5 points
    api.wait_awarded(rider, report["id"])
    [lot] = lots(rider.id, schemes.current())
    run(expiry.expire_points(schemes.current(), now=lot.expires_at))
    assert api.balance(rider) == {"spendable": 0, "lifetime": 5, "debt": 0}
    history = api.get("/api/v1/me/history", rider).json()
    assert history[0]["code"] == "expire" and history[0]["points"] == -5 and "到期" in history[0]["reason"]


def test_a_member_sees_what_expires_when(api, community, jpeg):
    resident = community.residents[1]
    report = api.submit(resident, "order.illegal_ads", [jpeg], **near()).json()
    api.wait_awarded(resident, report["id"])
    expiring = api.get("/api/v1/me/expiring", resident).json()
    assert [e["points"] for e in expiring] == [5]
    when = datetime.fromisoformat(expiring[0]["expires_at"]).astimezone(schemes.current().tz)
    assert (when.year, when.month, when.day, when.hour) == (clock.now().astimezone(schemes.current().tz).year + 2, 1, 1, 0)


def test_never_policy_and_the_sweep_expire_nothing_early(community):
    never = parse_rules(DEFAULT.replace('policy = "end_of_next_year"', 'policy = "never"'))
    grant(community.id, community.staff.id, 10)
    assert run(expiry.expire_points(never, now=clock.now() + timedelta(days=10_000))) == 0
    assert python("-m", "points", "sweep").returncode == 0
    assert spendable(community.staff.id) == 10


def test_a_long_history_is_read_from_its_kept_summary_and_gives_what_a_full_replay_gives(api, community):
    """A read that replays over KEEP_EVERY transfers keeps a summary; later reads replay only what came after
    it, a hold kept in the summary comes back on cancel, and another expiry policy ignores the summary."""
    member = community.residents[0]
    rules = schemes.current()
    for _ in range(expiry.KEEP_EVERY + 5):
        grant(community.id, member.id, 1)
    account = run(Account.select(Account.id).where(Account.key == member_account_key(SPENDABLE, member.id)).first())["id"]

    def full_replay(policy=rules) -> list[expiry.Lot]:
        book = expiry.LotBook()
        book.replay(policy, account, run(db.sql(
            "SELECT * FROM transfer WHERE debit_account = {} OR credit_account = {} ORDER BY id", account, account)))
        return book.lots

    def kept() -> dict:
        return run(db.sql("SELECT as_of, book FROM lot_summary WHERE account = {}", account))[0]

    assert [e["points"] for e in api.get("/api/v1/me/expiring", member).json()] == [expiry.KEEP_EVERY + 5]
    first = kept()["as_of"]
    assert first == max(t.id for t in full_replay())

    actor, order = raincoat_order(community, member, "resident")  # +500, then 400 held
    assert [e["points"] for e in api.get("/api/v1/me/expiring", member).json()] == [expiry.KEEP_EVERY + 5 + 100]
    assert kept()["as_of"] == first  # a few transfers on top: replayed, not kept
    for _ in range(expiry.KEEP_EVERY + 1):
        grant(community.id, member.id, 1)
    total = 2 * expiry.KEEP_EVERY + 6
    assert [e["points"] for e in api.get("/api/v1/me/expiring", member).json()] == [total + 100]
    assert kept()["as_of"] > first and f"order:{order['id']}" in kept()["book"]  # kept with the hold's slices
    run(counter.cancel(actor, order["id"]))
    assert [e["points"] for e in api.get("/api/v1/me/expiring", member).json()] == [total + 500]
    assert lots(member.id, rules) == full_replay()
    assert lots(member.id, AFTER_30_DAYS) == full_replay(AFTER_30_DAYS)  # another policy: dates of its own
    assert lots(member.id, AFTER_30_DAYS)[0].expires_at < lots(member.id, rules)[0].expires_at

    run(expiry.expire_points(rules, now=lots(member.id, rules)[-1].expires_at))
    assert spendable(member.id) == 0 and api.get("/api/v1/me/expiring", member).json() == []
