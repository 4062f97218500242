"""Placing orders (积分兑换): two-phase, like a card payment, and in batches.

Placing an order moves the price from the member's spendable account to their hold account and takes one
from stock, in one transaction; it then resolves exactly once at the counter (points/shop/counter.py). Orders
that arrive together are placed together, in one transaction per batch (`points.infra.batching`): a rush pays for
its transactions once per batch, not once per rider. Locks are taken in one order everywhere: the members'
accounts, then the order, then the reward row; a sold-out reward is refused before any lock is taken.
Within a batch, `decide()` — pure, no database — says what becomes of each ask, in arrival order.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from points import clock, idempotency, scope
from points.errors import Conflict, DomainError, NotFound, checked
from points.infra import metrics
from points.infra.batching import Batcher
from points.infra.db import lock_rows_sql, marks, rows_values, sql, write
from points.ledger import transfers as ledger
from points.ledger.transfers import HOLD, SPENDABLE, TransferSpec
from points.scope import Actor
from points.shop.rewards import availability, period_of
from points.vocabulary import TAKEN_ORDERS, OrderStatus, TransferCode, order_hold_key, order_ref
from rules import fields

PICKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed at a counter
PICKUP_LENGTH = 8


class SoldOut(Conflict):
    def __init__(self) -> None:
        super().__init__("sold_out", "sold out: none left in stock")



def _new_code() -> str:
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_LENGTH))


@dataclass(frozen=True)
class _Ask:
    """One member's order, waiting for its batch."""

    actor: Actor
    reward_id: int
    stored_key: str | None
    tz: ZoneInfo
    pickup_days: int


_REPLAY = "replay"  # the outcome of an ask whose Idempotency-Key already placed an order


async def place_order(actor: Actor, reward_id: int, tz: ZoneInfo, pickup_days: int,
                      idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Order one of a reward; returns (the order, whether it was placed now)."""
    actor.require_active("redeem")
    # Checked before the order joins a batch: one member's bad input must not fail the others' orders.
    checked(fields.ID, "reward", reward_id)
    stored_key = idempotency.stored(actor.id, idempotency.Operation.ORDER, idempotency_key)
    outcome = await _orders.submit(_Ask(actor, reward_id, stored_key, tz, pickup_days))
    if outcome == _REPLAY:  # the same key was used before: that order stands
        earlier = await _replay(actor, stored_key, reward_id)
        assert earlier is not None
        return earlier, False
    return outcome, True


def _refusal(ask: _Ask, reward: dict[str, Any] | None, now: datetime, may_be_replay: bool) -> DomainError | None:
    """Why this ask cannot be placed, judged on the reward alone. A retry of a placed order is answered
    with that order even once the reward has sold out, so an ask that may be one is not refused for stock."""
    if reward is None or reward["community"] != ask.actor.community_id:
        return NotFound("reward")
    if may_be_replay and reward["stock"] < 1:
        return None
    try:
        availability(reward, ask.actor, now)
    except DomainError as refused:
        return refused
    return SoldOut() if reward["stock"] < 1 else None


async def _place_batch(asks: list[_Ask]) -> list[dict[str, Any] | str | Exception]:
    """Place a batch of orders in one transaction; one outcome per ask, in order.

    A first, lock-free look at the rewards answers what needs no lock: no such
    reward, not on offer, sold out (the rush's common answer). For the rest,
    everything an order depends on is locked — the members' accounts, then the
    rewards — and the asks are decided in Python, in arrival order, against the
    locked balances, stock and limits; the batch is then written in a few
    set-wise statements. The ledger's conditional balance update stays the last word.
    """
    reward_ids = sorted({a.reward_id for a in asks})
    first_look = {r["id"]: r for r in await sql(
        f"SELECT * FROM reward WHERE id IN ({marks(reward_ids)})", *reward_ids)}
    now = clock.now()
    outcomes: list[dict[str, Any] | str | Exception | None] = [
        _refusal(a, first_look.get(a.reward_id), now, may_be_replay=a.stored_key is not None) for a in asks]
    live = [i for i, o in enumerate(outcomes) if o is None]
    if live:
        for i, outcome in zip(live, await write(lambda: _place_locked([asks[i] for i in live])), strict=True):
            outcomes[i] = outcome
    metrics.ORDER_BATCH.observe(len(asks))
    for outcome in outcomes:
        metrics.ORDERS.labels("placed" if isinstance(outcome, dict) else getattr(outcome, "code", "replay")).inc()
    return outcomes


async def _place_locked(asks: list[_Ask]) -> list[dict[str, Any] | str | Exception]:
    """The batch's transaction: lock, decide each ask in turn, write what was placed."""
    now = clock.now()
    member_ids = sorted({a.actor.id for a in asks})
    accounts = {(r["member"], r["kind"]): r for r in await ledger.lock_members(member_ids, (SPENDABLE, HOLD))}
    keys = [a.stored_key for a in asks if a.stored_key]
    done = {r["idempotency_key"] for r in await sql(
        f"SELECT idempotency_key FROM redemption WHERE idempotency_key IN ({marks(keys)})", *keys)} if keys else set()
    reward_ids = sorted({a.reward_id for a in asks})
    rewards = {r["id"]: r for r in await sql(
        f"SELECT * FROM reward WHERE id IN ({marks(reward_ids)}) ORDER BY id" + lock_rows_sql(), *reward_ids)}
    taken = await _taken_this_period(asks, rewards, now)
    shelf = Shelf(rewards, {m: accounts[(m, SPENDABLE)]["balance"] for m in member_ids}, taken, done)
    outcomes = decide(asks, shelf, now)
    placed = [o for o in outcomes if isinstance(o, dict)]
    if placed:
        await _write_orders(placed, accounts, rewards)
    for i, order in enumerate(outcomes):
        if isinstance(order, dict):  # written, or left out by the key's backstop (then a replay)
            outcomes[i] = _order_view(order, rewards[order["reward"]]) if "id" in order else _REPLAY
    return outcomes


@dataclass
class Shelf:
    """What a batch is decided against, read under its locks; `decide()` updates it as orders are placed."""

    rewards: dict[int, dict[str, Any]]  # reward rows by id (their stock goes down)
    balances: dict[int, int]  # spendable points by member
    taken: dict[tuple[int, int, str], int]  # (member, reward, period) → orders counting against the limit
    done: set[str]  # stored Idempotency-Keys that have placed an order


def decide(asks: list[_Ask], shelf: Shelf, now: datetime) -> list[dict[str, Any] | str | DomainError]:
    """What becomes of each ask, in arrival order: a new order (a dict, not yet written), a replay of an
    earlier one (`_REPLAY`), or the refusal with its reason. Pure: no database, no clock of its own."""
    outcomes: list[dict[str, Any] | str | DomainError] = []
    for ask in asks:
        reward, member = shelf.rewards[ask.reward_id], ask.actor.id
        period = period_of(now, reward["limit_period"] or "year", ask.tz)
        if ask.stored_key in shelf.done:
            outcomes.append(_REPLAY)
            continue
        count = shelf.taken.get((member, ask.reward_id, period.key), 0)
        refused = _refusal(ask, reward, now, may_be_replay=False)
        if refused is None and reward["limit_count"] and count >= reward["limit_count"]:
            refused = Conflict("limit_reached", f"you have ordered this {count} time(s) this "
                               f"{reward['limit_period']}; the limit resets at {period.resets_at.isoformat()}",
                               resets_at=period.resets_at.isoformat())
        balance = shelf.balances[member]
        if refused is None and balance < reward["price"]:
            refused = Conflict("insufficient_points", f"not enough points: this costs {reward['price']}, "
                               f"you have {balance}", balance=balance, price=reward["price"])
        if refused is not None:
            outcomes.append(refused)
            continue
        reward["stock"] -= 1
        shelf.balances[member] -= reward["price"]
        shelf.taken[(member, ask.reward_id, period.key)] = count + 1
        if ask.stored_key:
            shelf.done.add(ask.stored_key)  # the same key again in this batch is a replay of this order
        outcomes.append({"member": member, "community": ask.actor.community_id, "reward": ask.reward_id,
                         "price": reward["price"], "status": OrderStatus.HELD, "pickup_code": _new_code(),
                         "period": period.key, "idempotency_key": ask.stored_key, "created_at": now,
                         "expires_at": now + timedelta(days=ask.pickup_days)})
    return outcomes


async def _taken_this_period(asks: list[_Ask], rewards: dict[int, dict[str, Any]],
                             now: datetime) -> dict[tuple[int, int, str], int]:
    """How many of each limited reward each member of the batch has ordered this period."""
    limited = [a for a in asks if rewards[a.reward_id]["limit_count"]]
    if not limited:
        return {}
    members, reward_ids = sorted({a.actor.id for a in limited}), sorted({a.reward_id for a in limited})
    periods = sorted({period_of(now, rewards[a.reward_id]["limit_period"], a.tz).key for a in limited})
    rows = await sql(
        "SELECT member, reward, period, COUNT(*) AS n FROM redemption "
        f"WHERE member IN ({marks(members)}) AND reward IN ({marks(reward_ids)}) AND period IN ({marks(periods)}) "
        f"AND status IN ({marks(TAKEN_ORDERS)}) GROUP BY member, reward, period", *members, *reward_ids, *periods,
        *TAKEN_ORDERS)
    return {(r["member"], r["reward"], r["period"]): r["n"] for r in rows}


async def _write_orders(placed: list[dict[str, Any]], accounts: dict[tuple[int, str], dict[str, Any]],
                        rewards: dict[int, dict[str, Any]]) -> None:
    """Insert the batch's orders, hold their prices, take their stock. An order whose key turns out to be
    taken already (the key's lock-free backstop) is left out and becomes a replay."""
    columns = list(placed[0])
    values, args = rows_values([[o[c] for c in columns] for o in placed])
    inserted = {r["pickup_code"]: r["id"] for r in await sql(
        f"INSERT INTO redemption ({', '.join(columns)}) VALUES {values} "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, pickup_code", *args)}
    written = []
    for order in placed:
        if order["pickup_code"] in inserted:
            order["id"], order["resolved_at"] = inserted[order["pickup_code"]], None
            written.append(order)
    await ledger.post([TransferSpec(
        order_hold_key(o["id"]), accounts[(o["member"], SPENDABLE)]["id"], accounts[(o["member"], HOLD)]["id"],
        o["price"], TransferCode.REDEEM_HOLD, f"{rewards[o['reward']]['name_zh']} / {rewards[o['reward']]['name_en']}",
        order_ref(o["id"])) for o in written])
    for reward_id in sorted({o["reward"] for o in written}):
        n = sum(o["reward"] == reward_id for o in written)
        if not await sql("UPDATE reward SET stock = stock - {} WHERE id = {} AND stock >= {} RETURNING stock",
                         n, reward_id, n):
            raise AssertionError(f"reward {reward_id}: stock taken under its lock changed")


_orders: Batcher[_Ask, dict[str, Any] | str] = Batcher(_place_batch, max_size=200)


async def _replay(actor: Actor, stored_key: str, reward_id: int) -> dict[str, Any] | None:
    order_id = await idempotency.earlier("redemption", stored_key, "reward", reward_id, "an order of another reward")
    return None if order_id is None else await order_view(order_id)


async def order_view(order_id: int) -> dict[str, Any]:
    o = (await sql("SELECT * FROM redemption WHERE id = {}", order_id))[0]
    reward = (await sql("SELECT code, name_zh, name_en FROM reward WHERE id = {}", o["reward"]))[0]
    return _order_view(o, reward)


def _order_view(o: dict[str, Any], reward: dict[str, Any]) -> dict[str, Any]:
    return {"id": o["id"], "member_id": o["member"], "reward_id": o["reward"], "reward_code": reward["code"],
            "reward_name_zh": reward["name_zh"], "reward_name_en": reward["name_en"], "price": o["price"],
            "status": o["status"], "pickup_code": o["pickup_code"], "created_at": o["created_at"],
            "expires_at": o["expires_at"], "resolved_at": o["resolved_at"]}


async def my_orders(actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    where, args = scope.mine(actor, "redemption.member")
    rows = await sql("SELECT redemption.*, reward.code, reward.name_zh, reward.name_en FROM redemption JOIN reward "
                     "ON reward.id = redemption.reward WHERE true" + where + " ORDER BY redemption.id DESC LIMIT {}",
                     *args, limit)
    return [_order_view(r, r) for r in rows]

