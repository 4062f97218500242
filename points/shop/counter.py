"""The counter (核销) and how an order resolves: fulfilled against its pickup code, cancelled by the member or
staff, or expired uncollected. Each order resolves exactly once — every resolution writes the one ledger
key ``order:{id}:resolve`` — and points coming back to a member who owes settle the debt first.
"""

from __future__ import annotations

from typing import Any

from points import audit, clock, scope
from points.errors import Conflict, NotFound
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.ledger.honours import mask_name
from points.ledger.transfers import HOLD, SPENDABLE, TransferSpec, community_account_key, member_account_key
from points.privacy import mask_phone
from points.scope import Actor
from points.shop.orders import order_view
from points.vocabulary import (
    TAKEN_ORDERS,
    AccountKind,
    OrderStatus,
    TransferCode,
    order_ref,
    order_resolve_key,
    settle_key,
)


async def _resolve(order: dict[str, Any], status: str, actor_id: int | None) -> bool:
    """Move a held order to `status` and settle its hold, in the caller's transaction (which holds the
    member's lock); False if the order was no longer held."""
    done = await sql("UPDATE redemption SET status = {}, resolved_at = {}, resolved_by = {} "
                     "WHERE id = {} AND status = {} RETURNING id", status, clock.now(), actor_id,
                     order["id"], OrderStatus.HELD)
    if not done:
        return False
    keys = {"hold": member_account_key(HOLD, order["member"]),
            "back": member_account_key(SPENDABLE, order["member"]),
            "sink": community_account_key(AccountKind.REDEEMED, order["community"])}
    if status == OrderStatus.FULFILLED:
        await ledger.open_accounts([(keys["sink"], AccountKind.REDEEMED, None, order["community"])])
    ids = await ledger.accounts_by_key(keys.values())
    target = ids[keys["sink"]] if status == OrderStatus.FULFILLED else ids[keys["back"]]
    await ledger.post([TransferSpec(order_resolve_key(order["id"]), ids[keys["hold"]], target, order["price"],
                                    TransferCode.REDEEM_POST if status == OrderStatus.FULFILLED else TransferCode.REDEEM_VOID,
                                    f"order {status}", order_ref(order["id"]))])
    if status != OrderStatus.FULFILLED:
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
    rows = await sql("SELECT * FROM redemption WHERE member = {} AND status = {}", member_id, OrderStatus.HELD)
    return sum([await _resolve(row, OrderStatus.CANCELLED, member_id) for row in rows])


async def fulfil(actor: Actor, pickup_code: str) -> dict[str, Any]:
    """核销: the counter hands the reward over against the member's pickup code."""
    clause, args = scope.clause(actor)
    code = pickup_code.strip().upper().replace("-", "").replace(" ", "")

    async def run() -> int:
        rows = await sql("SELECT * FROM redemption WHERE pickup_code = {}" + clause, code, *args)
        if not rows:
            raise NotFound("order with this pickup code", "unknown_pickup_code", "code")
        await _resolve_one(rows[0], OrderStatus.FULFILLED, actor.id)
        await audit.record(actor.id, "order.fulfil", "order", rows[0]["id"], rows[0]["community"],
                           {"reward": rows[0]["reward"], "price": rows[0]["price"]})
        return rows[0]["id"]

    return await order_view(await write(run))


async def order_by_code(actor: Actor, pickup_code: str) -> dict[str, Any]:
    clause, args = scope.clause(actor)
    rows = await sql("SELECT id FROM redemption WHERE pickup_code = {}" + clause,
                     pickup_code.strip().upper().replace("-", "").replace(" ", ""), *args)
    if not rows:
        raise NotFound("order with this pickup code", "unknown_pickup_code", "code")
    order = await order_view(rows[0]["id"])
    # At the counter: whose order it is, masked (陈**), for staff to ask the name without reading it out.
    who = await sql("SELECT m.name, m.phone FROM member m WHERE m.id = {}", order["member_id"])
    return {**order, "member_name": mask_name(who[0]["name"]), "member_phone": mask_phone(who[0]["phone"])}


async def cancel(actor: Actor, order_id: int) -> dict[str, Any]:
    """The member before pickup, or staff of the order's community: points and stock go back."""

    async def run() -> None:
        order = await scope.order(actor, order_id)
        await _resolve_one(order, OrderStatus.CANCELLED, actor.id)
        if actor.is_staff:
            await audit.record(actor.id, "order.cancel", "order", order_id, order["community"],
                               {"reward": order["reward"], "price": order["price"]})

    await write(run)
    return await order_view(order_id)


async def expire_due(batch: int) -> int:
    """Expire held orders past their pickup window, up to `batch` per transaction; return how many."""

    async def run() -> tuple[int, int]:
        rows = await sql("SELECT * FROM redemption WHERE status = {} AND expires_at < {} ORDER BY id LIMIT {}",
                         OrderStatus.HELD, clock.now(), batch)
        for member in sorted({r["member"] for r in rows}):  # members first, as everywhere
            await ledger.lock_members([member])
        expired = [row for row in rows if await _resolve(row, OrderStatus.EXPIRED, None)]
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
            f"(SELECT COUNT(*) FROM redemption WHERE reward = r.id AND status IN ({marks(TAKEN_ORDERS)})) AS taken "
            "FROM reward r", *TAKEN_ORDERS):
        if r["stock"] != r["shelved"] - r["taken"]:
            problems.append(f"reward {r['code']} of community {r['community']}: stock {r['stock']} but "
                            f"{r['shelved']} shelved and {r['taken']} ordered")
    for r in await sql(
            "SELECT a.key, a.balance, CAST(COALESCE((SELECT SUM(price) FROM redemption o WHERE o.member = a.member "
            "AND o.status = {}), 0) AS BIGINT) AS held FROM account a WHERE a.kind = {}", OrderStatus.HELD, HOLD):
        if r["balance"] != r["held"]:
            problems.append(f"account {r['key']}: holds {r['balance']} but the member's open orders cost {r['held']}")
    return problems

