"""The double-entry, append-only points ledger.

Every movement of points is a `Transfer` from one account to another, keyed by
an idempotency key derived from the business event (``award:submission:12``).
The primitives that keep the invariants live here and nowhere else:

- `post()` inserts transfers with ``INSERT … ON CONFLICT DO NOTHING`` and moves
  balances only for the rows it actually inserted, so replaying an event is a
  no-op; a key replayed with different fields is refused.
- balances move in one conditional ``UPDATE … WHERE balance + delta >= 0``:
  a member-side account never goes negative. Issuance accounts, which mint
  points, go below zero; a member's debt account (points owed after a
  clawback found them spent) is never above zero. A database CHECK/trigger
  backs this up.

Callers run these inside `db.write()`. Mistakes are corrected by new,
reversing transfers; rows are never edited (database triggers refuse it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from points import clock, scope
from points.errors import InsufficientPoints, TransferMismatch
from points.infra.db import lock_rows_sql, marks, sql, touches, values_list
from points.scope import Actor
from points.vocabulary import MEMBER_KINDS, MINTING_KINDS, AccountKind, TransferCode, account_key
from points.wording import both

SPENDABLE, LIFETIME, HOLD, DEBT = AccountKind.SPENDABLE, AccountKind.LIFETIME, AccountKind.HOLD, AccountKind.DEBT
ISSUANCE, LIFETIME_ISSUANCE = AccountKind.ISSUANCE, AccountKind.LIFETIME_ISSUANCE
INSERT_CHUNK = 1000


@dataclass(frozen=True)
class TransferSpec:
    key: str
    debit: int
    credit: int
    amount: int
    code: str
    reason: str
    ref: str
    rules_version: str = ""


def member_account_key(kind: str, member_id: int) -> str:
    return account_key(kind, "member", member_id)


def community_account_key(kind: str, community_id: int) -> str:
    return account_key(kind, "community", community_id)


async def open_accounts(rows: Iterable[tuple[str, str, int | None, int | None]]) -> None:
    """Create accounts (key, kind, member, community) that do not exist yet."""
    rows = list(rows)
    values, args = values_list(rows, ("TEXT", "TEXT", "INTEGER", "INTEGER"))
    await sql(f"INSERT INTO account (key, kind, member, community, balance) "
              f"SELECT v.*, 0 FROM (VALUES {values}) AS v WHERE true ON CONFLICT (key) DO NOTHING", *args)


async def open_member_accounts(member_id: int, community_id: int) -> None:
    await open_accounts((member_account_key(k, member_id), k, member_id, community_id)
                        for k in MEMBER_KINDS)


async def open_community_accounts(community_id: int) -> None:
    await open_accounts((community_account_key(k, community_id), k, None, community_id) for k in MINTING_KINDS)


async def lock_members(member_ids: Iterable[int], kinds: Sequence[str] = MEMBER_KINDS) -> list[dict[str, Any]]:
    """Lock these members' accounts of these kinds until commit, and return them (id, member, kind, balance).

    The one lock order, everywhere: members' accounts first (by account id), then an order, then rewards.
    Every writer that moves a member's points takes these locks first, so caps, limits and balances are
    decided on values no one else is changing (SQLite: the database write lock does the same)."""
    ids = sorted(set(member_ids))
    if not ids:
        return []
    return await sql(f"SELECT id, member, kind, balance FROM account WHERE member IN ({marks(ids)}) "
                     f"AND kind IN ({marks(kinds)}) ORDER BY id" + lock_rows_sql(), *ids, *kinds)


async def accounts_by_key(keys: Iterable[str]) -> dict[str, int]:
    keys = sorted(set(keys))
    if not keys:
        return {}
    rows = await sql(f"SELECT id, key FROM account WHERE key IN ({marks(keys)})", *keys)
    return {r["key"]: r["id"] for r in rows}


async def post(transfers: Sequence[TransferSpec]) -> set[str]:
    """Write the transfers not yet written; return the keys written now."""
    if len({t.key for t in transfers}) != len(transfers):
        raise ValueError("one idempotency key twice in one post: each key is one transfer")
    inserted: set[str] = set()
    now = clock.now()
    for start in range(0, len(transfers), INSERT_CHUNK):
        chunk = transfers[start:start + INSERT_CHUNK]
        values, args = values_list(
            [(t.key, t.debit, t.credit, t.amount, t.code, t.reason, t.ref, t.rules_version, now) for t in chunk],
            ("TEXT", "INTEGER", "INTEGER", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "TIMESTAMPTZ"))
        rows = await sql(
            "INSERT INTO transfer (idempotency_key, debit_account, credit_account, amount, code, reason, ref, "
            f"rules_version, created_at) SELECT v.* FROM (VALUES {values}) AS v WHERE true "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key", *args)
        inserted.update(r["idempotency_key"] for r in rows)
    await _check_replays([t for t in transfers if t.key not in inserted])
    deltas: dict[int, int] = defaultdict(int)
    for t in transfers:
        if t.key in inserted:
            deltas[t.debit] -= t.amount
            deltas[t.credit] += t.amount
    await move_balances(deltas)
    return inserted


async def _check_replays(replayed: Sequence[TransferSpec]) -> None:
    if not replayed:
        return
    existing = {r["idempotency_key"]: r for r in await sql(
        "SELECT idempotency_key, debit_account, credit_account, amount, code FROM transfer "
        f"WHERE idempotency_key IN ({marks(replayed)})", *(t.key for t in replayed))}
    for t in replayed:
        row = existing.get(t.key)
        if row is None or (row["debit_account"], row["credit_account"], row["amount"], row["code"]) != (
                t.debit, t.credit, t.amount, t.code):
            raise TransferMismatch(t.key)


async def move_balances(deltas: dict[int, int]) -> None:
    """Apply balance deltas in one statement; refuse if any member-side account would go negative
    (or a debt account above zero)."""
    deltas = {account: d for account, d in deltas.items() if d}
    if not deltas:
        return
    values, args = values_list(sorted(deltas.items()), ("INTEGER", "BIGINT"))
    kinds = ", ".join(f"'{k}'" for k in MINTING_KINDS)
    rows = await sql(
        f"WITH v(id, delta) AS (VALUES {values}) "
        "UPDATE account SET balance = account.balance + v.delta FROM v "
        f"WHERE account.id = v.id AND (account.kind IN ({kinds}) OR (account.kind = '{DEBT}' AND "
        f"account.balance + v.delta <= 0) OR (account.kind <> '{DEBT}' AND account.balance + v.delta >= 0)) "
        "RETURNING account.id, account.community", *args)
    if len(rows) != len(deltas):
        raise InsufficientPoints()
    touches(r["community"] for r in rows if r["community"] is not None)


async def settle_debt(member_id: int, up_to: int, key: str, ref: str) -> int:
    """Pay the member's debt (points owed after a clawback) out of points just returned to their spendable
    balance, up to `up_to`, in the caller's transaction (which holds the member's lock); how much was paid.
    Points coming back to a member who owes settle the debt first, whatever brings them back."""
    accounts = {r["kind"]: r for r in await sql(
        "SELECT id, kind, balance FROM account WHERE member = {} AND kind IN ({}, {})", member_id, SPENDABLE, DEBT)}
    amount = min(up_to, -accounts[DEBT]["balance"], accounts[SPENDABLE]["balance"]) if DEBT in accounts else 0
    if amount > 0:
        await post([TransferSpec(key, accounts[SPENDABLE]["id"], accounts[DEBT]["id"], amount, TransferCode.SETTLE,
                                 both("ledger", "settle"), ref)])
    return max(amount, 0)


MEMBER_BALANCES = (SPENDABLE, LIFETIME, DEBT)


def balance_columns(member_id: str = "m.id") -> str:
    """Select-list items reading a member's balances beside the other columns of one query (a read page's
    one round trip); `member_id` is the SQL naming the member. `balances_in` turns them into balances."""
    return ", ".join(f"COALESCE((SELECT balance FROM account WHERE member = {member_id} AND kind = '{kind}'), 0) "
                     f"AS balance_{kind}" for kind in MEMBER_BALANCES)


def balances_in(row: dict[str, Any]) -> dict[str, int]:
    """A member's balances from a row read with `balance_columns` (debt as the points owed)."""
    return {SPENDABLE: row[f"balance_{SPENDABLE}"], LIFETIME: row[f"balance_{LIFETIME}"],
            DEBT: -row[f"balance_{DEBT}"]}


async def balances(member: Actor) -> dict[str, int]:
    """The acting member's own balances (debt as the points owed)."""
    where, args = scope.mine(member, "m.id")
    return balances_in((await sql(f"SELECT {balance_columns()} FROM member m WHERE true" + where, *args))[0])


async def history(member: Actor, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
    """The acting member's own points history, newest first, signed from the member's side: what came into and
    went out of their spendable account, and what was taken from them as debt when they had nothing left (a
    penalty or a clawback booked as owed: its settling later shows as a spendable line, so nothing twice).

    Each side is read newest first on its own (account, id) index and the sides are merged, so a page costs the
    same whatever the length of the history (an OR of them would walk the whole ledger backwards)."""
    account = "(SELECT id FROM account WHERE key = {})"  # in the statement: one round trip a page
    before = " AND id < {}" if before_id is not None else ""
    columns = "id, idempotency_key, code, reason, ref, rules_version, created_at"
    page = [*([before_id] if before_id is not None else []), limit]
    spendable, debt = member_account_key(SPENDABLE, member.id), member_account_key(DEBT, member.id)
    return await sql(
        f"SELECT * FROM (SELECT {columns}, amount AS points FROM transfer WHERE credit_account = {account}{before} "
        "ORDER BY id DESC LIMIT {}) AS credited UNION ALL "
        f"SELECT * FROM (SELECT {columns}, -amount AS points FROM transfer WHERE debit_account = {account}{before} "
        "ORDER BY id DESC LIMIT {}) AS debited UNION ALL "
        f"SELECT * FROM (SELECT {columns}, -amount AS points FROM transfer WHERE debit_account = {account}{before} "
        "ORDER BY id DESC LIMIT {}) AS owed ORDER BY id DESC LIMIT {}",
        spendable, *page, spendable, *page, debt, *page, limit)


async def reconcile() -> list[str]:
    """Recompute every balance from the transfers; return one line per problem found."""
    problems: list[str] = []
    rows = await sql(
        "SELECT a.id, a.key, a.kind, a.balance, "
        "CAST(COALESCE((SELECT SUM(amount) FROM transfer WHERE credit_account = a.id), 0) "
        "- COALESCE((SELECT SUM(amount) FROM transfer WHERE debit_account = a.id), 0) AS BIGINT) AS computed "
        "FROM account a ORDER BY a.id")
    total = 0
    for r in rows:
        total += r["balance"]
        if r["balance"] != r["computed"]:
            problems.append(f"account {r['key']}: balance {r['balance']} but transfers say {r['computed']}")
        if r["balance"] < 0 and r["kind"] not in (*MINTING_KINDS, DEBT):
            problems.append(f"account {r['key']}: negative balance {r['balance']}")
        if r["balance"] > 0 and r["kind"] == DEBT:
            problems.append(f"account {r['key']}: a debt account above zero ({r['balance']})")
    if total != 0:
        problems.append(f"balances sum to {total}, not 0: points were created or lost outside a transfer")
    return problems
