"""A model-based test of the ledger (reliability T1): awards, reversals, deductions, orders, fulfilment,
cancellation, order expiry, points expiry and replays of any earlier key, in an order Hypothesis chooses,
against the real database; after every step each member's spendable, lifetime, debt and held points, each
reward's stock, and every account's balance against its transfers must match an in-memory model.

JIFEN_TEST_MODEL_EXAMPLES and JIFEN_TEST_MODEL_STEPS (default 40) set how hard it looks: by default 100
examples on PostgreSQL and 30 on the embedded default, where each statement opens its own SQLite connection
(a thread of its own) and an example costs several times more;
`JIFEN_TEST_MODEL_EXAMPLES=2000 ./dev test tests/test_ledger_model.py` for a longer search. Each leg (and the
run with the clock pinned) draws its examples from a seed of its own, so a whole run tries different
sequences on each leg and the same ones every time it runs.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from conftest import LEG, run
from points import clock
from points.areas import schemes
from points.errors import DomainError
from points.infra import db
from points.ledger import expiry
from points.ledger import transfers as ledger
from points.ledger.transfers import DEBT, HOLD, LIFETIME, SPENDABLE
from points.people import members
from points.reports import awards
from points.scope import Actor
from points.shop import counter, orders, rewards

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned

EXAMPLES = int(os.environ.get("JIFEN_TEST_MODEL_EXAMPLES") or {"sqlite": 30, "postgres": 100}[LEG])
SEED = {"sqlite": 1, "postgres": 2}[LEG] + (10 if os.environ.get("JIFEN_TEST_CLOCK") else 0)
STEPS = int(os.environ.get("JIFEN_TEST_MODEL_STEPS", "40"))
ITEMS = {"order.streetlight_broken": 10, "order.ebike_misparked": 5, "order.illegal_construction": 50}
DEDUCTION = ("penalty.false_report", 50)
PRICES = (30, 70)
STOCK = (3, 2)
MEMBERS = 3


@dataclass
class Member:
    id: int
    spendable: int = 0
    lifetime: int = 0
    debt: int = 0
    held: int = 0

    def receive(self, points: int) -> None:
        """Points coming to the member pay their debt first."""
        settle = min(points, self.debt)
        self.debt -= settle
        self.spendable += points - settle

    def take(self, points: int) -> None:
        """A clawback or deduction: from the balance as far as it goes, the rest owed."""
        paid = min(points, self.spendable)
        self.spendable -= paid
        self.debt += points - paid


@dataclass
class Order:
    id: int
    member: Member
    reward: int
    price: int
    code: str
    key: str
    status: str = "held"


@dataclass
class Award:
    id: int
    member: Member
    points: int
    reversed: bool = False


@dataclass
class World:
    community: int
    staff: Actor
    rewards: dict[int, dict] = field(default_factory=dict)


@seed(SEED)
class LedgerModel(RuleBasedStateMachine):
    loop = staticmethod(run)  # the run's one event loop and its pool: a query costs a round trip
    world: World
    days = itertools.count()

    orders = Bundle("orders")
    award_ids = Bundle("awards")
    deductions = Bundle("deductions")

    @initialize()
    def setup(self) -> None:
        self.rules = schemes.current()
        self.members = [Member(self.loop(_new_member(self.world.community))) for _ in range(MEMBERS)]
        self.rewards: dict[int, int] = {}  # reward id → stock
        for price, stock in zip(PRICES, STOCK, strict=True):
            spec = rewards.reward_spec({"code": f"m.r{uuid.uuid4().hex[:10]}", "name_zh": "模型", "name_en": "model",
                                     "kind": "goods", "price": price, "stock": stock})
            rid = self.loop(rewards.create_reward(self.world.staff, spec))
            self.rewards[rid] = stock
        self.prices = dict(zip(self.rewards, PRICES, strict=True))

    def actor(self, member: Member) -> Actor:
        return Actor(member.id, "rider", self.world.community, "", "active")

    @rule(target=award_ids, who=st.integers(0, MEMBERS - 1), item=st.sampled_from(sorted(ITEMS)))
    def award(self, who: int, item: str) -> Award:
        member = self.members[who]
        # Each award in a month of its own and a place of its own: caps and the first-reporter rule never bind.
        n = next(self.days)
        day = date(2020 + n // 12 % 6, n % 12 + 1, 15)
        sid = self.loop(db.sql(
            "INSERT INTO submission (member, community, item_id, claimed_item_id, units, priority, description, "
            "address, lat, lng, status, local_day, submitted_at, rules_version, request_hash, verify_note, "
            "award_note, award_rules_version, verified_at) VALUES ({}, {}, {}, {}, 1, 'P3', '', '', {}, {}, "
            "'verified', {}, {}, {}, '', '', '', '', {}) RETURNING id", member.id, self.world.community, item, item,
            10 + (n % 70), 100 + (n // 70) % 70, day, clock.now(), self.rules.version, clock.now()))[0]["id"]
        assert self.loop(awards.award_batch(self.rules, 10, ids=[sid])) == 1
        member.receive(ITEMS[item])
        member.lifetime += ITEMS[item]
        return Award(sid, member, ITEMS[item])

    @rule(award=award_ids)
    def reverse(self, award: Award) -> None:
        result = self.loop(_reverse(self.world.staff, award.id))
        if award.reversed:
            assert result["already"] is True
            return
        award.reversed = True
        assert (result["reversed"], result["already"]) == (award.points, False)
        award.member.take(award.points)
        award.member.lifetime -= award.points

    @rule(target=deductions, who=st.integers(0, MEMBERS - 1))
    def deduct(self, who: int) -> tuple[Member, str]:
        member = self.members[who]
        key = f"model-{uuid.uuid4().hex}"
        result = self.loop(_deduct(self.world.staff, self.rules, member.id, key))
        paid = min(DEDUCTION[1], member.spendable)
        assert (result["from_balance"], result["to_debt"], result["already"]) == (paid, DEDUCTION[1] - paid, False)
        member.take(DEDUCTION[1])
        return member, key

    @rule(deduction=deductions)
    def replay_deduction(self, deduction: tuple[Member, str]) -> None:
        member, key = deduction
        assert self.loop(_deduct(self.world.staff, self.rules, member.id, key))["already"] is True

    @rule(target=orders, who=st.integers(0, MEMBERS - 1), which=st.integers(0, len(PRICES) - 1))
    def order(self, who: int, which: int):
        member = self.members[who]
        rid = list(self.rewards)[which]
        key = f"model-{uuid.uuid4().hex}"
        try:
            view, placed = self.loop(orders.place_order(self.actor(member), rid, self.rules.tz, 7, key))
        except DomainError as refused:
            expected = "sold_out" if self.rewards[rid] == 0 else "insufficient_points"
            assert refused.code == expected and (self.rewards[rid] == 0 or member.spendable < self.prices[rid])
            return None
        assert placed and self.rewards[rid] > 0 and member.spendable >= self.prices[rid]
        self.rewards[rid] -= 1
        member.spendable -= self.prices[rid]
        member.held += self.prices[rid]
        return Order(view["id"], member, rid, self.prices[rid], view["pickup_code"], key)

    @rule(order=orders)
    def replay_order(self, order: Order | None) -> None:
        if order is None:
            return
        try:
            view, placed = self.loop(orders.place_order(self.actor(order.member), order.reward, self.rules.tz, 7,
                                                      order.key))
        except DomainError as refused:  # a replay never places a second order; it may find the member suspended
            raise AssertionError(f"a replay was refused: {refused.code}") from None
        assert (view["id"], placed) == (order.id, False)

    @rule(order=consumes(orders), how=st.sampled_from(["fulfil", "cancel", "expire"]))
    def resolve(self, order: Order | None, how: str) -> None:
        if order is None:
            return
        if how == "fulfil":
            self.loop(counter.fulfil(self.world.staff, order.code))
        elif how == "cancel":
            self.loop(counter.cancel(self.actor(order.member), order.id))
        else:
            self.loop(db.sql("UPDATE redemption SET expires_at = {} WHERE id = {}",
                             clock.now() - timedelta(minutes=1), order.id))
            assert self.loop(counter.expire_due(50)) >= 1
        order.member.held -= order.price
        if how != "fulfil":
            self.rewards[order.reward] += 1
            order.member.receive(order.price)

    @rule()
    def expire_points(self) -> None:
        """Three years on, every lot has expired: what is spendable goes; held points and debt stay."""
        self.loop(expiry.expire_points(self.rules, now=clock.now() + timedelta(days=3 * 366)))
        for member in self.members:
            member.spendable = 0

    @invariant()
    def matches_the_model(self) -> None:
        """After every step: each member's balances and held points, each reward's stock, and every account of
        theirs against its transfers — three statements, so that a search of many steps stays quick."""
        if not hasattr(self, "members"):
            return
        ids = [m.id for m in self.members]
        marks = ", ".join("{}" for _ in ids)
        rows = {r["id"]: r for r in self.loop(db.sql(
            f"SELECT m.id, {ledger.balance_columns()}, COALESCE((SELECT balance FROM account WHERE member = m.id "
            f"AND kind = {{}}), 0) AS hold FROM member m WHERE m.id IN ({marks})", HOLD, *ids))}
        for member in self.members:
            got = ledger.balances_in(rows[member.id])
            assert (got[SPENDABLE], got[LIFETIME], got[DEBT], rows[member.id]["hold"]) == (
                member.spendable, member.lifetime, member.debt, member.held), f"member {member.id}"
        stock = {r["id"]: r["stock"] for r in self.loop(db.sql(
            f"SELECT id, stock FROM reward WHERE id IN ({', '.join('{}' for _ in self.rewards)})", *self.rewards))}
        assert stock == self.rewards
        wrong = self.loop(db.sql(
            f"SELECT a.key FROM account a WHERE a.member IN ({marks}) AND a.balance <> "
            "COALESCE((SELECT SUM(amount) FROM transfer WHERE credit_account = a.id), 0) "
            "- COALESCE((SELECT SUM(amount) FROM transfer WHERE debit_account = a.id), 0)", *ids))
        assert wrong == []


async def _new_member(community_id: int) -> int:
    rows = await db.sql("INSERT INTO member (community, role, name, phone, password_hash, status, platform, "
                        "created_at, session_epoch, board_name, building) VALUES ({}, 'rider', 'model', {}, 'x', "
                        "'active', 'meituan', {}, 0, 'masked', '') RETURNING id", community_id,
                        f"+8617{uuid.uuid4().int % 10**9:09d}", clock.now())
    await ledger.open_member_accounts(rows[0]["id"], community_id)
    return rows[0]["id"]


async def _reverse(staff: Actor, sid: int) -> dict:
    from points.reports import reversals

    return await reversals.reverse_award(staff, sid, "fraud")


async def _deduct(staff: Actor, rules, member_id: int, key: str) -> dict:
    from points.reports import reversals

    return await reversals.deduct(staff, rules, member_id, DEDUCTION[0], "model", key)


@pytest.fixture
def model_world(make_community):
    community = make_community()
    LedgerModel.world = World(community.id, Actor(community.staff.id, "staff", community.id, "", "active"))


def test_the_ledger_follows_its_model(model_world):
    run_state_machine_as_test(LedgerModel, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=list(HealthCheck),
        database=None))


assert members  # the members module: community members are made through it in make_community
