"""The shop's shelf: rewards, their stock, and who may order what when.

Rewards come from a catalogue file (rules/catalogue.py) or from staff, checked the same way. Stock moves
only by a recorded movement (initial stock, restock with a reason) or by an order; every staff change is
audited. `availability()` says why a member may not order a reward now; `period_of()` which limit period
an instant falls in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from points import audit, clock, scope
from points.errors import Conflict, Forbidden, Invalid
from points.infra.db import marks, sql, write
from points.scope import Actor
from points.tables import Reward, StockMovement
from points.vocabulary import TAKEN_ORDERS
from rules.catalogue import Catalogue, check_reward
from rules.catalogue import Reward as RewardSpec
from rules.loader import Problem


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
    return reward_view(await _scoped_reward(actor, reward_id))


async def stock_history(actor: Actor, reward_id: int) -> list[dict[str, Any]]:
    await _scoped_reward(actor, reward_id)
    return await StockMovement.select().where(StockMovement.reward == reward_id).order_by(StockMovement.id)

# ------------------------------------------------------------------ members

def availability(reward: dict[str, Any], actor: Actor, now: datetime) -> None:
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
        f"SELECT reward, period, COUNT(*) AS n FROM redemption WHERE member = {{}} AND status IN ({marks(TAKEN_ORDERS)}) "
        "GROUP BY reward, period", actor.id, *TAKEN_ORDERS)}
    out = []
    for r in rewards:
        remaining = resets_at = None
        if r["limit_count"]:
            period = period_of(now, r["limit_period"], tz)
            remaining = max(0, r["limit_count"] - counts.get((r["id"], period.key), 0))
            resets_at = period.resets_at
        out.append({**reward_view(r), "eligible": actor.role in r["roles"].split(","),
                    "remaining_for_you": remaining, "limit_resets_at": resets_at})
    return out


async def staff_catalogue(actor: Actor) -> list[dict[str, Any]]:
    """Every reward of the staff member's community (admins: of all), withdrawn ones too."""
    where, args = scope.clause(actor)
    return [reward_view(r) for r in await sql("SELECT * FROM reward WHERE true" + where + " ORDER BY community, id",
                                               *args)]


async def public_catalogue(community_id: int) -> list[dict[str, Any]]:
    """What a community's shop offers, for its public page."""
    rows = await sql("SELECT * FROM reward WHERE community = {} AND active = {} ORDER BY price, id", community_id, True)
    return [reward_view(r) for r in rows]


def reward_view(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("id", "code", "name_zh", "name_en", "description", "image", "kind", "price", "stock",
                              "limit_count", "limit_period", "available_from", "available_until", "active")} | {
        "roles": r["roles"].split(",")}

