"""Points expiry: lots, oldest first (FIFO), as the rules file's [expiry] policy says.

Lots are not stored: they are read off the member's spendable account. Every
credit opens a lot (its expiry from the policy and the day it was earned);
every debit takes from the lots that expire first; a cancelled or expired
order gives back exactly the slices its hold took. The expiry job writes one
transfer per expired lot, keyed ``expire:{account}:{lot}:{last}`` where `last`
is the account's latest transfer: run again on the same ledger, it writes
nothing; a lot that expired and then got points back (a cancelled order) can
expire again. Held points are in the hold account and
lifetime points in their own: neither can expire.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from points import clock, ledger
from points.db import marks, sql, write
from points.ledger import ISSUANCE, SPENDABLE, TransferSpec, community_account_key
from points.scope import Actor
from points.vocabulary import TransferCode, expired_lot, expiry_key, lot_ref
from points.wording import both
from rules import Rules

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass
class Lot:
    id: int  # the transfer that brought the points in
    expires_at: datetime
    amount: int


def expires_at(rules: Rules, earned_at: datetime) -> datetime:
    if rules.expiry.policy == "after_days":
        return earned_at + timedelta(days=rules.expiry.days)
    if rules.expiry.policy == "end_of_next_year":
        local = earned_at.astimezone(rules.tz)
        return datetime(local.year + 2, 1, 1, tzinfo=rules.tz).astimezone(UTC)
    return NEVER


def lots_from(rules: Rules, account_id: int, transfers: list[dict[str, Any]]) -> list[Lot]:
    """Replay an account's transfers (oldest first) into the lots that still hold points."""
    lots: list[Lot] = []
    taken_by: dict[str, list[Lot]] = defaultdict(list)  # an order's hold: the slices it took

    def take(amount: int, ref: str, only_lot: int | None = None) -> None:
        lots.sort(key=lambda lot: (lot.expires_at, lot.id))
        queue = deque(lot for lot in lots if only_lot is None or lot.id == only_lot)
        while amount > 0 and queue:
            lot = queue.popleft()
            used = min(lot.amount, amount)
            lot.amount -= used
            amount -= used
            taken_by[ref].append(Lot(lot.id, lot.expires_at, used))
        lots[:] = [lot for lot in lots if lot.amount > 0]

    for t in transfers:
        if t["credit_account"] == account_id:
            if t["code"] == TransferCode.REDEEM_VOID and taken_by.get(t["ref"]):
                for piece in taken_by.pop(t["ref"]):  # back into its lot, which may still hold the rest
                    lot = next((lot for lot in lots if lot.id == piece.id), None)
                    if lot is None:
                        lots.append(Lot(piece.id, piece.expires_at, piece.amount))
                    else:
                        lot.amount += piece.amount
            else:
                lots.append(Lot(t["id"], expires_at(rules, t["created_at"]), t["amount"]))
        else:
            lot_id = expired_lot(t["idempotency_key"]) if t["code"] == TransferCode.EXPIRE else None
            take(t["amount"], t["ref"], lot_id)
    return sorted(lots, key=lambda lot: (lot.expires_at, lot.id))


async def _account_lots(rules: Rules, account_id: int) -> tuple[list[Lot], int]:
    """The account's lots, and the id of its latest transfer (the state they were read at)."""
    transfers = await sql("SELECT id, idempotency_key, debit_account, credit_account, amount, code, ref, created_at "
                          "FROM transfer WHERE debit_account = {} OR credit_account = {} ORDER BY id",
                          account_id, account_id)
    return lots_from(rules, account_id, transfers), (transfers[-1]["id"] if transfers else 0)


async def upcoming(rules: Rules, member: Actor) -> list[dict[str, Any]]:
    """What the acting member's own spendable points expire, and when, soonest first."""
    rows = await sql("SELECT id FROM account WHERE key = {}", ledger.member_account_key(SPENDABLE, member.id))
    if not rows:
        return []
    by_date: dict[datetime, int] = defaultdict(int)
    lots, _ = await _account_lots(rules, rows[0]["id"])
    for lot in lots:
        if lot.expires_at != NEVER:
            by_date[lot.expires_at] += lot.amount
    return [{"expires_at": when, "points": points} for when, points in sorted(by_date.items())]


def _cutoff(rules: Rules, now: datetime) -> datetime:
    """Credits earned before this may have expired by `now`."""
    if rules.expiry.policy == "after_days":
        return now - timedelta(days=rules.expiry.days)
    return datetime(now.astimezone(rules.tz).year - 1, 1, 1, tzinfo=rules.tz).astimezone(UTC)


async def expire_points(rules: Rules, now: datetime | None = None, batch: int = 200,
                        communities: list[int] | None = None) -> int:
    """Write an expiry transfer for every lot past its date (of the members of the `communities` running
    `rules`; all when not given); return the points expired."""
    if rules.expiry.policy == "never" or communities == []:
        return 0
    now = now or clock.now()
    only = f" AND a.community IN ({marks(communities)})" if communities else ""
    candidates = await sql(
        f"SELECT a.id, a.member, a.community FROM account a WHERE a.kind = {{}} AND a.balance > 0{only} AND EXISTS "
        "(SELECT 1 FROM transfer t WHERE t.credit_account = a.id AND t.created_at <= {}) ORDER BY a.id",
        SPENDABLE, *(communities or []), _cutoff(rules, now))
    total = 0
    for start in range(0, len(candidates), batch):
        chunk = candidates[start:start + batch]

        async def run(chunk: list[dict[str, Any]] = chunk) -> int:
            await ledger.lock_members([c["member"] for c in chunk], (SPENDABLE,))
            issuance = await ledger.accounts_by_key(community_account_key(ISSUANCE, c["community"]) for c in chunk)
            transfers = []
            for c in chunk:
                lots, last = await _account_lots(rules, c["id"])
                for lot in lots:
                    if lot.expires_at <= now:
                        transfers.append(TransferSpec(
                            expiry_key(c["id"], lot.id, last), c["id"],
                            issuance[community_account_key(ISSUANCE, c["community"])], lot.amount, TransferCode.EXPIRE,
                            f"{both('ledger', 'expire')} ({lot.expires_at.astimezone(rules.tz):%Y-%m-%d})",
                            lot_ref(lot.id), rules.version))
            written = await ledger.post(transfers)
            return sum(t.amount for t in transfers if t.key in written)

        total += await write(run)
    return total
