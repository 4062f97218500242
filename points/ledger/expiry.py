"""Points expiry: lots, oldest first (FIFO), as the rules file's [expiry] policy says.

Lots are read off the member's spendable account. Every credit opens a lot
(its expiry from the policy and the day it was earned); every debit takes from
the lots that expire first; a cancelled or expired order gives back exactly the
slices its hold took. A kept summary (`lot_summary`, written under the
account's lock by the expiry job and by a read that replayed many transfers)
holds where the lots stood, so a read replays only the transfers after it. The expiry job writes one
transfer per expired lot, keyed ``expire:{account}:{lot}:{last}`` where `last`
is the account's latest transfer: run again on the same ledger, it writes
nothing; a lot that expired and then got points back (a cancelled order) can
expire again. Held points are in the hold account and
lifetime points in their own: neither can expire.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from points import clock
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.ledger.transfers import ISSUANCE, SPENDABLE, TransferSpec, community_account_key
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


def policy_of(rules: Rules) -> str:
    """What a kept lot summary was computed under: another policy (or time zone) computes other dates."""
    return f"{rules.expiry.policy}:{rules.expiry.days}:{rules.tz}"


@dataclass
class LotBook:
    """The lots an account holds after a prefix of its transfers, and the slices each order's hold took
    (a void gives exactly those back). Replaying more transfers onto it is the same as replaying all."""

    lots: list[Lot] = field(default_factory=list)
    holds: dict[str, list[Lot]] = field(default_factory=dict)

    def _take(self, amount: int, ref: str, code: str, only_lot: int | None) -> None:
        self.lots.sort(key=lambda lot: (lot.expires_at, lot.id))
        queue = deque(lot for lot in self.lots if only_lot is None or lot.id == only_lot)
        taken: list[Lot] = []
        while amount > 0 and queue:
            lot = queue.popleft()
            used = min(lot.amount, amount)
            lot.amount -= used
            amount -= used
            taken.append(Lot(lot.id, lot.expires_at, used))
        if code == TransferCode.REDEEM_HOLD:  # only a hold can come back
            self.holds.setdefault(ref, []).extend(taken)
        self.lots[:] = [lot for lot in self.lots if lot.amount > 0]

    def replay(self, rules: Rules, account_id: int, transfers: list[dict[str, Any]]) -> None:
        """Apply the account's next transfers, oldest first."""
        for t in transfers:
            if t["credit_account"] != account_id:
                lot_id = expired_lot(t["idempotency_key"]) if t["code"] == TransferCode.EXPIRE else None
                self._take(t["amount"], t["ref"], t["code"], lot_id)
            elif t["code"] == TransferCode.REDEEM_VOID and self.holds.get(t["ref"]):
                for piece in self.holds.pop(t["ref"]):  # back into its lot, which may still hold the rest
                    lot = next((lot for lot in self.lots if lot.id == piece.id), None)
                    if lot is None:
                        self.lots.append(Lot(piece.id, piece.expires_at, piece.amount))
                    else:
                        lot.amount += piece.amount
            else:
                self.lots.append(Lot(t["id"], expires_at(rules, t["created_at"]), t["amount"]))
        self.lots.sort(key=lambda lot: (lot.expires_at, lot.id))

    def dump(self) -> str:
        def rows(lots: list[Lot]) -> list[list[Any]]:
            return [[lot.id, lot.expires_at.isoformat(), lot.amount] for lot in lots]
        return json.dumps({"lots": rows(self.lots), "holds": {ref: rows(h) for ref, h in self.holds.items()}})

    @classmethod
    def load(cls, text: str) -> LotBook:
        def lots(rows: list[list[Any]]) -> list[Lot]:
            return [Lot(i, datetime.fromisoformat(when), amount) for i, when, amount in rows]
        data = json.loads(text)
        return cls(lots(data["lots"]), {ref: lots(h) for ref, h in data["holds"].items()})


KEEP_EVERY = 200  # a read that replays more transfers than this keeps a new summary


async def _account_book(rules: Rules, account_id: int,
                        kept: list[dict[str, Any]] | None = None) -> tuple[LotBook, int, int]:
    """The account's book now, the id of its latest transfer (the state it was read at) and how many
    transfers were replayed on top of the kept summary (read here unless the caller has: `kept`)."""
    if kept is None:
        kept = await sql("SELECT as_of, policy, book FROM lot_summary WHERE account = {}", account_id)
    book, as_of = LotBook(), 0
    if kept and kept[0]["policy"] == policy_of(rules):
        book, as_of = LotBook.load(kept[0]["book"]), kept[0]["as_of"]
    transfers = await sql("SELECT id, idempotency_key, debit_account, credit_account, amount, code, ref, created_at "
                          "FROM transfer WHERE (debit_account = {} OR credit_account = {}) AND id > {} ORDER BY id",
                          account_id, account_id, as_of)
    book.replay(rules, account_id, transfers)
    return book, (transfers[-1]["id"] if transfers else as_of), len(transfers)


async def _keep(rules: Rules, account_id: int, book: LotBook, as_of: int) -> None:
    """Store the book as of `as_of`. Call with the account locked: every writer that moves a member's points
    holds that lock from before its transfer until commit, so no transfer at or below `as_of` is still
    uncommitted and the summary misses nothing."""
    await sql("INSERT INTO lot_summary (account, as_of, policy, book) VALUES ({}, {}, {}, {}) "
              "ON CONFLICT (account) DO UPDATE SET as_of = excluded.as_of, policy = excluded.policy, "
              "book = excluded.book WHERE lot_summary.as_of < excluded.as_of OR lot_summary.policy <> excluded.policy",
              account_id, as_of, policy_of(rules), book.dump())


async def account_lots(rules: Rules, account_id: int) -> list[Lot]:
    """The lots that still hold points, soonest to expire first."""
    return (await _account_book(rules, account_id))[0].lots


async def _refresh(rules: Rules, member_id: int, account_id: int) -> None:
    async def run() -> None:
        await ledger.lock_members([member_id], (SPENDABLE,))
        book, last, replayed = await _account_book(rules, account_id)
        if replayed:
            await _keep(rules, account_id, book, last)
    await write(run)


async def upcoming(rules: Rules, member: Actor) -> list[dict[str, Any]]:
    """What the acting member's own spendable points expire, and when, soonest first."""
    rows = await sql("SELECT a.id, s.as_of, s.policy, s.book FROM account a LEFT JOIN lot_summary s "
                     "ON s.account = a.id WHERE a.key = {}", ledger.member_account_key(SPENDABLE, member.id))
    if not rows:
        return []
    kept = rows if rows[0]["as_of"] is not None else []  # the account and its summary, read in one query
    book, _, replayed = await _account_book(rules, rows[0]["id"], kept)
    if replayed > KEEP_EVERY:  # rarely: the next reads start from here
        await _refresh(rules, member.id, rows[0]["id"])
    by_date: dict[datetime, int] = defaultdict(int)
    for lot in book.lots:
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
                book, last, replayed = await _account_book(rules, c["id"])
                if replayed:
                    await _keep(rules, c["id"], book, last)
                for lot in book.lots:
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
