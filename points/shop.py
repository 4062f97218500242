"""The community shop (积分超市): rewards, stock, and orders paid in points.

An order is two-phase, like a card payment. Placing it moves the price from the
member's spendable account to their hold account and takes one from stock, in
one transaction. It then resolves exactly once: fulfilled at the counter (the
hold is posted to the community's redeemed account), or cancelled, or expired
(the hold goes back, and so does the stock). Both resolutions use the one
idempotency key ``order:{id}:resolve``, so the ledger itself refuses a second.

Orders that arrive together are placed together, in one transaction per batch
(`points.batching`): a rush pays for its transactions once per batch, not once
per rider. Locks are taken in one order everywhere: the members' accounts, then
the order, then the reward row; a sold-out reward is refused before any lock is
taken.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from points import audit, clock, idempotency, ledger, scope
from points.batching import Batcher
from points.db import lock_rows_sql, marks, sql, write
from points.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, checked
from points.ledger import HOLD, SPENDABLE, TransferSpec, community_account_key, member_account_key
from points.scope import Actor
from points.tables import Redemption, Reward, StockMovement
from points.vocabulary import (
    AccountKind,
    TransferCode,
    order_hold_key,
    order_ref,
    order_resolve_key,
    settle_key,
)
from rules import fields
from rules.catalogue import Catalogue, check_reward
from rules.catalogue import Reward as RewardSpec
from rules.loader import Problem

PICKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed at a counter
PICKUP_LENGTH = 8


class SoldOut(Conflict):
    def __init__(self) -> None:
        super().__init__("sold_out", "sold out: none left in stock")


@dataclass(frozen=True)
class Period:
    key: str
    resets_at: datetime


def period_of(moment: datetime, period: str, tz: ZoneInfo) -> Period:
    """The limit period `moment` falls in, and when the next one starts (in the scheme's zone)."""
    local = moment.astimezone(tz)
    if period == "month":
        key, start = f"{local:%Y-%m}", (local.year + local.month // 12, local.month % 12 + 1)
    elif period == "quarter":
        q = (local.month - 1) // 3
        key, start = f"{local.year}-Q{q + 1}", (local.year + (q == 3), (q + 1) % 4 * 3 + 1)
    else:
        key, start = f"{local.year}", (local.year + 1, 1)
    return Period(key, datetime(start[0], start[1], 1, tzinfo=tz))


def _reward_row(spec: RewardSpec, community_id: int) -> dict[Any, Any]:
    return {
        Reward.community: community_id, Reward.code: spec.code, Reward.key: f"{community_id}:{spec.code}",
        Reward.name_zh: spec.name_zh, Reward.name_en: spec.name_en, Reward.description: spec.description,
        Reward.image: spec.image, Reward.kind: spec.kind, Reward.price: spec.price,
        Reward.limit_count: spec.limit.count if spec.limit else None,
        Reward.limit_period: spec.limit.period if spec.limit else None,
        Reward.roles: ",".join(spec.roles), Reward.available_from: spec.available_from,
        Reward.available_until: spec.available_until,
    }


async def _put_on_shelf(reward_id: int, quantity: int, reason: str, actor_id: int | None) -> None:
    if quantity:
        await StockMovement.insert(StockMovement(reward=reward_id, quantity=quantity, reason=reason[:200],
                                                 actor=actor_id, created_at=clock.now()))
        await sql("UPDATE reward SET stock = stock + {} WHERE id = {}", quantity, reward_id)


async def load_catalogue(community_id: int, catalogue: Catalogue, actor_id: int | None = None) -> int:
    """Add the catalogue's rewards the community does not have yet; return how many were added."""

    async def run() -> int:
        added = 0
        for spec in catalogue.rewards:
            row = _reward_row(spec, community_id)
            rows = await Reward.insert(Reward(**{c._meta.name: v for c, v in row.items()}, stock=0)).on_conflict(
                target=Reward.key, action="DO NOTHING").returning(Reward.id)
            if rows:
                added += 1
                await _put_on_shelf(rows[0]["id"], spec.stock, f"initial stock from {catalogue.path[-120:]}",
                                    actor_id)
                await audit.record(actor_id, "reward.create", "reward", rows[0]["id"], community_id,
                                   {"code": spec.code, "stock": spec.stock, "price": spec.price})
        return added

    return await write(run)


def reward_spec(data: dict[str, Any]) -> RewardSpec:
    """A reward sent by staff (API or page), checked as the catalogue file's are; the first problem raised."""
    problems: list[Problem] = []
    spec = check_reward(problems, "reward", data)
    if problems:
        raise Invalid("invalid_reward", problems[0].message, field=problems[0].field)
    return spec


async def _scoped_reward(actor: Actor, reward_id: int) -> dict[str, Any]:
    return await scope.one(actor, "reward", reward_id)


async def create_reward(actor: Actor, spec: RewardSpec) -> int:
    scope.clause(actor)

    async def run() -> int:
        rows = await Reward.insert(Reward(**{c._meta.name: v for c, v in _reward_row(
            spec, actor.community_id).items()}, stock=0)).on_conflict(
            target=Reward.key, action="DO NOTHING").returning(Reward.id)
        if not rows:
            raise Conflict("code_taken", f"this community has a reward {spec.code} already", field="code")
        await _put_on_shelf(rows[0]["id"], spec.stock, "initial stock", actor.id)
        await audit.record(actor.id, "reward.create", "reward", rows[0]["id"], actor.community_id,
                           {"code": spec.code, "stock": spec.stock, "price": spec.price})
        return rows[0]["id"]

    return await write(run)


async def update_reward(actor: Actor, reward_id: int, spec: RewardSpec, active: bool) -> None:
    """Change a reward's description, price, limit, window or roles (stock moves only by restock)."""

    async def run() -> None:
        before = await _scoped_reward(actor, reward_id)
        if spec.code != before["code"]:
            raise Invalid("code_fixed", "a reward's code cannot change", field="code")
        row = _reward_row(spec, before["community"])
        await Reward.update({**row, Reward.active: active}).where(Reward.id == reward_id)
        changed = {k: v for k, v in {"price": spec.price, "active": active, "name_zh": spec.name_zh}.items()
                   if before[k] != v}
        await audit.record(actor.id, "reward.update", "reward", reward_id, before["community"], changed)

    await write(run)


async def restock(actor: Actor, reward_id: int, quantity: int, reason: str) -> int:
    if quantity == 0:
        raise Invalid("invalid_quantity", "quantity must not be 0", field="quantity")
    if not reason.strip():
        raise Invalid("reason_required", "say why the stock changes", field="reason")

    async def run() -> int:
        reward = await _scoped_reward(actor, reward_id)
        if reward["stock"] + quantity < 0:
            raise Invalid("invalid_quantity", f"only {reward['stock']} in stock to take away", field="quantity")
        await _put_on_shelf(reward_id, quantity, reason.strip(), actor.id)
        await audit.record(actor.id, "reward.restock", "reward", reward_id, reward["community"],
                           {"quantity": quantity, "reason": reason.strip()[:200]})
        return reward["stock"] + quantity

    return await write(run)


async def reward(actor: Actor, reward_id: int) -> dict[str, Any]:
    return _reward_view(await _scoped_reward(actor, reward_id))


async def stock_history(actor: Actor, reward_id: int) -> list[dict[str, Any]]:
    await _scoped_reward(actor, reward_id)
    return await StockMovement.select().where(StockMovement.reward == reward_id).order_by(StockMovement.id)


# ------------------------------------------------------------------ members

def _availability(reward: dict[str, Any], actor: Actor, now: datetime) -> None:
    """Raise the reason the member cannot order this reward now, if there is one."""
    if actor.role not in reward["roles"].split(","):
        raise Forbidden("not_eligible", f"this reward is for {reward['roles'].replace(',', ' and ')} members only",
                        field="reward")
    if not reward["active"]:
        raise Conflict("not_available", "this reward is not on offer")
    if reward["available_from"] and now < reward["available_from"]:
        raise Conflict("not_available_yet", f"on offer from {reward['available_from'].isoformat()}",
                       available_from=reward["available_from"].isoformat())
    if reward["available_until"] and now >= reward["available_until"]:
        raise Conflict("no_longer_available", f"on offer until {reward['available_until'].isoformat()}")


async def catalogue_for(actor: Actor, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The member's community shop, with what each member may still order this period."""
    rewards = await sql("SELECT * FROM reward WHERE community = {} AND active = {} ORDER BY price, id",
                        actor.community_id, True)
    now = clock.now()
    counts = {(r["reward"], r["period"]): r["n"] for r in await sql(
        "SELECT reward, period, COUNT(*) AS n FROM redemption WHERE member = {} AND status IN ('held', 'fulfilled') "
        "GROUP BY reward, period", actor.id)}
    out = []
    for r in rewards:
        remaining = resets_at = None
        if r["limit_count"]:
            period = period_of(now, r["limit_period"], tz)
            remaining = max(0, r["limit_count"] - counts.get((r["id"], period.key), 0))
            resets_at = period.resets_at
        out.append({**_reward_view(r), "eligible": actor.role in r["roles"].split(","),
                    "remaining_for_you": remaining, "limit_resets_at": resets_at})
    return out


async def staff_catalogue(actor: Actor) -> list[dict[str, Any]]:
    """Every reward of the staff member's community (admins: of all), withdrawn ones too."""
    where, args = scope.clause(actor)
    return [_reward_view(r) for r in await sql("SELECT * FROM reward WHERE true" + where + " ORDER BY community, id",
                                               *args)]


async def public_catalogue(community_id: int) -> list[dict[str, Any]]:
    """What a community's shop offers, for its public page."""
    rows = await sql("SELECT * FROM reward WHERE community = {} AND active = {} ORDER BY price, id", community_id, True)
    return [_reward_view(r) for r in rows]


def _reward_view(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("id", "code", "name_zh", "name_en", "description", "image", "kind", "price", "stock",
                              "limit_count", "limit_period", "available_from", "available_until", "active")} | {
        "roles": r["roles"].split(",")}


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
        _availability(reward, ask.actor, now)
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

    outcomes: list[dict[str, Any] | str | Exception] = []
    placed: list[dict[str, Any]] = []
    for ask in asks:
        reward, member = rewards[ask.reward_id], ask.actor.id
        period = period_of(now, reward["limit_period"] or "year", ask.tz)
        try:
            if ask.stored_key in done:
                outcomes.append(_REPLAY)
                continue
            if reason := _refusal(ask, reward, now, may_be_replay=False):
                raise reason
            count = taken.get((member, ask.reward_id, period.key), 0)
            if reward["limit_count"] and count >= reward["limit_count"]:
                raise Conflict("limit_reached", f"you have ordered this {count} time(s) this "
                               f"{reward['limit_period']}; the limit resets at {period.resets_at.isoformat()}",
                               resets_at=period.resets_at.isoformat())
            balance = accounts[(member, SPENDABLE)]["balance"]
            if balance < reward["price"]:
                raise Conflict("insufficient_points", f"not enough points: this costs {reward['price']}, "
                               f"you have {balance}", balance=balance, price=reward["price"])
        except DomainError as refused:
            outcomes.append(refused)
            continue
        reward["stock"] -= 1
        accounts[(member, SPENDABLE)]["balance"] -= reward["price"]
        taken[(member, ask.reward_id, period.key)] = count + 1
        if ask.stored_key:
            done.add(ask.stored_key)  # the same key again in this batch is a replay of this order
        order = {"member": member, "community": ask.actor.community_id, "reward": ask.reward_id,
                 "price": reward["price"], "status": "held", "pickup_code": _new_code(), "period": period.key,
                 "idempotency_key": ask.stored_key, "created_at": now,
                 "expires_at": now + timedelta(days=ask.pickup_days)}
        placed.append(order)
        outcomes.append(order)
    if placed:
        await _write_orders(placed, accounts, rewards)
    for i, order in enumerate(outcomes):
        if isinstance(order, dict):  # written, or left out by the key's backstop (then a replay)
            outcomes[i] = _order_view(order, rewards[order["reward"]]) if "id" in order else _REPLAY
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
        "AND status IN ('held', 'fulfilled') GROUP BY member, reward, period", *members, *reward_ids, *periods)
    return {(r["member"], r["reward"], r["period"]): r["n"] for r in rows}


async def _write_orders(placed: list[dict[str, Any]], accounts: dict[tuple[int, str], dict[str, Any]],
                        rewards: dict[int, dict[str, Any]]) -> None:
    """Insert the batch's orders, hold their prices, take their stock. An order whose key turns out to be
    taken already (the key's lock-free backstop) is left out and becomes a replay."""
    columns = list(placed[0])
    values = ", ".join("(" + ", ".join("{}" for _ in columns) + ")" for _ in placed)
    inserted = {r["pickup_code"]: r["id"] for r in await sql(
        f"INSERT INTO redemption ({', '.join(columns)}) VALUES {values} "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, pickup_code",
        *(o[c] for o in placed for c in columns))}
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
    row = await Redemption.select(Redemption.id, Redemption.reward).where(
        Redemption.idempotency_key == stored_key).first()
    if row is None:
        return None
    if row["reward"] != reward_id:
        raise idempotency.reused("an order of another reward")
    return await order_view(row["id"])


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
    ids = await sql("SELECT id FROM redemption WHERE member = {} ORDER BY id DESC LIMIT {}", actor.id, limit)
    return [await order_view(r["id"]) for r in ids]


# --------------------------------------------------------------- resolution

async def _resolve(order: dict[str, Any], status: str, actor_id: int | None) -> bool:
    """Move a held order to `status` and settle its hold, in the caller's transaction (which holds the
    member's lock); False if the order was no longer held."""
    done = await sql("UPDATE redemption SET status = {}, resolved_at = {}, resolved_by = {} "
                     "WHERE id = {} AND status = 'held' RETURNING id", status, clock.now(), actor_id,
                     order["id"])
    if not done:
        return False
    keys = {"hold": member_account_key(HOLD, order["member"]),
            "back": member_account_key(SPENDABLE, order["member"]),
            "sink": community_account_key(AccountKind.REDEEMED, order["community"])}
    if status == "fulfilled":
        await ledger.open_accounts([(keys["sink"], AccountKind.REDEEMED, None, order["community"])])
    ids = await ledger.accounts_by_key(keys.values())
    target = ids[keys["sink"]] if status == "fulfilled" else ids[keys["back"]]
    await ledger.post([TransferSpec(order_resolve_key(order["id"]), ids[keys["hold"]], target, order["price"],
                                    TransferCode.REDEEM_POST if status == "fulfilled" else TransferCode.REDEEM_VOID,
                                    f"order {status}", order_ref(order["id"]))])
    if status != "fulfilled":
        await sql("UPDATE reward SET stock = stock + 1 WHERE id = {}", order["reward"])
        # Held points come back to pay a debt first: an order cannot shelter points from a clawback.
        await ledger.settle_debt(order["member"], order["price"], settle_key(order_ref(order["id"])),
                                 order_ref(order["id"]))
    return True


async def _resolve_one(order: dict[str, Any], status: str, actor_id: int | None) -> None:
    await ledger.lock_members([order["member"]])
    if not await _resolve(order, status, actor_id):
        current = (await sql("SELECT status FROM redemption WHERE id = {}", order["id"]))[0]["status"]
        raise Conflict(f"already_{current}", f"this order is already {current}")


async def release_held(member_id: int) -> int:
    """Cancel every held order of a member (who is leaving), in the caller's transaction; how many."""
    await ledger.lock_members([member_id])
    rows = await sql("SELECT * FROM redemption WHERE member = {} AND status = 'held'", member_id)
    return sum([await _resolve(row, "cancelled", member_id) for row in rows])


async def fulfil(actor: Actor, pickup_code: str) -> dict[str, Any]:
    """核销: the counter hands the reward over against the member's pickup code."""
    clause, args = scope.clause(actor)
    code = pickup_code.strip().upper().replace("-", "").replace(" ", "")

    async def run() -> int:
        rows = await sql("SELECT * FROM redemption WHERE pickup_code = {}" + clause, code, *args)
        if not rows:
            raise NotFound("order with this pickup code")
        await _resolve_one(rows[0], "fulfilled", actor.id)
        await audit.record(actor.id, "order.fulfil", "order", rows[0]["id"], rows[0]["community"],
                           {"reward": rows[0]["reward"], "price": rows[0]["price"]})
        return rows[0]["id"]

    return await order_view(await write(run))


async def order_by_code(actor: Actor, pickup_code: str) -> dict[str, Any]:
    clause, args = scope.clause(actor)
    rows = await sql("SELECT id FROM redemption WHERE pickup_code = {}" + clause,
                     pickup_code.strip().upper().replace("-", "").replace(" ", ""), *args)
    if not rows:
        raise NotFound("order with this pickup code")
    return await order_view(rows[0]["id"])


async def cancel(actor: Actor, order_id: int) -> dict[str, Any]:
    """The member before pickup, or staff of the order's community: points and stock go back."""

    async def run() -> None:
        order = await (scope.one(actor, "redemption", order_id, "order") if actor.is_staff
                       else scope.own(actor, "redemption", order_id, "order"))
        await _resolve_one(order, "cancelled", actor.id)
        if actor.is_staff:
            await audit.record(actor.id, "order.cancel", "order", order_id, order["community"],
                               {"reward": order["reward"], "price": order["price"]})

    await write(run)
    return await order_view(order_id)


async def expire_due(batch: int) -> int:
    """Expire held orders past their pickup window, up to `batch` per transaction; return how many."""

    async def run() -> tuple[int, int]:
        rows = await sql("SELECT * FROM redemption WHERE status = 'held' AND expires_at < {} ORDER BY id LIMIT {}",
                         clock.now(), batch)
        for member in sorted({r["member"] for r in rows}):  # members first, as everywhere
            await ledger.lock_members([member])
        expired = [row for row in rows if await _resolve(row, "expired", None)]
        return len(rows), len(expired)

    total = 0
    while True:
        seen, expired = await write(run)
        total += expired
        if seen < batch:
            return total


async def reconcile() -> list[str]:
    """Stock = what was put on the shelf − open orders; each hold account = its member's held orders."""
    problems = []
    for r in await sql(
            "SELECT r.id, r.code, r.community, r.stock, "
            "COALESCE((SELECT SUM(quantity) FROM stock_movement WHERE reward = r.id), 0) AS shelved, "
            "(SELECT COUNT(*) FROM redemption WHERE reward = r.id AND status IN ('held', 'fulfilled')) AS taken "
            "FROM reward r"):
        if r["stock"] != r["shelved"] - r["taken"]:
            problems.append(f"reward {r['code']} of community {r['community']}: stock {r['stock']} but "
                            f"{r['shelved']} shelved and {r['taken']} ordered")
    for r in await sql(
            "SELECT a.key, a.balance, CAST(COALESCE((SELECT SUM(price) FROM redemption o WHERE o.member = a.member "
            "AND o.status = 'held'), 0) AS BIGINT) AS held FROM account a WHERE a.kind = {}", HOLD):
        if r["balance"] != r["held"]:
            problems.append(f"account {r['key']}: holds {r['balance']} but the member's open orders cost {r['held']}")
    return problems
