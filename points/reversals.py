"""Taking points back: clawback of an award found false or duplicate, and staff deductions.

Nothing is edited. Points come back by compensating transfers: from the
member's spendable balance as far as it goes, and the rest as a debt (the
member's debt account goes below zero by what is owed). The next awards settle
the debt first (points/awards.py). A spendable balance never goes negative,
and reversing the same award twice changes nothing: every transfer is keyed on
the award, and the submission moves awarded → reversed once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from points import audit, ledger, scope
from points.db import lock_rows_sql, sql, write
from points.errors import Conflict, Forbidden, Invalid, Unprocessable
from points.ledger import DEBT, ISSUANCE, LIFETIME, LIFETIME_ISSUANCE, SPENDABLE, TransferSpec
from points.scope import REPORTER_ROLES, Actor
from points.submissions import IDEMPOTENCY_KEY
from points.wording import both
from rules import Rules

REVERSE_REASONS = ("false_report", "duplicate", "wrong_item", "fraud", "other")


async def _member_accounts(member_id: int) -> dict[str, dict[str, Any]]:
    """The member's accounts by kind, locked (members first, as everywhere)."""
    rows = await sql("SELECT id, kind, balance FROM account WHERE member = {} ORDER BY id" + lock_rows_sql(),
                     member_id)
    return {r["kind"]: r for r in rows}


async def take_back(member_id: int, community_id: int, amount: int, key: str, code: str, reason: str, ref: str,
                    rules_version: str = "", lifetime: int = 0) -> tuple[int, int]:
    """Take `amount` points from a member, in the caller's transaction: (from the balance, added to debt).

    `lifetime` points are taken from the lifetime total too (an award that should not have been).
    """
    accounts = await _member_accounts(member_id)
    minting = await ledger.accounts_by_key(ledger.community_account_key(k, community_id)
                                           for k in (ISSUANCE, LIFETIME_ISSUANCE))
    paid = min(amount, accounts[SPENDABLE]["balance"])
    owed = amount - paid
    issuance = minting[ledger.community_account_key(ISSUANCE, community_id)]
    transfers = []
    if paid:
        transfers.append(TransferSpec(key, accounts[SPENDABLE]["id"], issuance, paid, code, reason, ref,
                                      rules_version))
    if owed:
        transfers.append(TransferSpec(f"{key}:debt", accounts[DEBT]["id"], issuance, owed, code,
                                      f"{reason} (owed: spent already)", ref, rules_version))
    if lifetime:
        transfers.append(TransferSpec(f"{key}:lifetime", accounts[LIFETIME]["id"],
                                      minting[ledger.community_account_key(LIFETIME_ISSUANCE, community_id)],
                                      lifetime, code, reason, ref, rules_version))
    await ledger.post(transfers)
    return paid, owed


async def reverse_award(actor: Actor, submission_id: int, reason: str, note: str = "") -> dict[str, Any]:
    """Claw back an award later found false or duplicate. A second call for the same award is a no-op."""
    if reason not in REVERSE_REASONS:
        raise Invalid("invalid_reason", f"reason must be one of {', '.join(REVERSE_REASONS)}", field="reason")

    async def run() -> dict[str, Any]:
        row = await scope.one(actor, "submission", submission_id, "submission")
        if row["member"] == actor.id:
            raise Forbidden("self_verification", "nobody decides on their own report")
        if row["status"] == "reversed":
            return {"reversed": 0, "from_balance": 0, "to_debt": 0, "already": True}
        if row["status"] != "awarded":
            raise Conflict("not_awarded", f"only an awarded report can be reversed; this one is {row['status']}")
        points = row["points"] or 0
        paid = owed = 0
        if points > 0:
            paid, owed = await take_back(row["member"], row["community"], points,
                                         f"reverse:submission:{submission_id}", "reversal",
                                         f"{both('ledger', 'reversal')}: {reason}", f"submission:{submission_id}",
                                         row["award_rules_version"], lifetime=points)
        done = await sql("UPDATE submission SET status = 'reversed', reversed_by = {}, reversed_at = {}, "
                         "reverse_reason = {} WHERE id = {} AND status = 'awarded' RETURNING id", actor.id,
                         datetime.now(UTC), f"{reason}: {note.strip()}"[:500] if note.strip() else reason,
                         submission_id)
        if not done:
            raise Conflict("already_decided", "this report changed just now; look again")
        await audit.record(actor.id, "submission.reverse", "submission", submission_id, row["community"],
                           {"reason": reason, "note": note.strip()[:200], "points": points,
                            "from_balance": paid, "to_debt": owed})
        return {"reversed": points, "from_balance": paid, "to_debt": owed, "already": False}

    return await write(run)


async def deduct(actor: Actor, rules: Rules, member_id: int, item_id: str, note: str,
                 idempotency_key: str) -> dict[str, Any]:
    """Record a deduction item (negative points in the rules file) against a member."""
    item = rules.item(item_id)
    if item is None or item.points >= 0:
        raise Invalid("unknown_deduction", f"{item_id!r} is not a deduction item of the rules file", field="item")
    if not IDEMPOTENCY_KEY.match(idempotency_key or ""):
        raise Invalid("invalid_idempotency_key", "Idempotency-Key must be 8-100 visible ASCII characters",
                      field="Idempotency-Key")
    note = (note or "").strip()
    if not note:
        raise Invalid("required", "note is required: say what happened", field="note")
    # The key is the acting staff member's (as every Idempotency-Key is the sender's): their retry of one
    # deduction is that deduction, whoever it was against.
    key = f"deduct:{actor.id}:{idempotency_key}"

    async def run() -> dict[str, Any]:
        target = await scope.one(actor, "member", member_id, "member")
        if target["id"] == actor.id or target["role"] not in REPORTER_ROLES or target["status"] == "deleted":
            raise Forbidden("not_deductible", "deductions apply to riders and residents, never to oneself")
        # Under the member's lock, so concurrent retries of one key see each other: the first writes, the rest
        # are answered with what it did.
        await _member_accounts(member_id)
        earlier = {e["idempotency_key"]: e for e in await sql(
            "SELECT idempotency_key, amount, ref FROM transfer WHERE idempotency_key IN ({}, {})", key, f"{key}:debt")}
        if earlier:
            if any(e["ref"] != f"member:{member_id}:{item.id}" for e in earlier.values()):
                raise Unprocessable("idempotency_key_reused", "this Idempotency-Key was used for another deduction",
                                    field="Idempotency-Key")
            return {"points": item.points, "from_balance": earlier.get(key, {}).get("amount", 0),
                    "to_debt": earlier.get(f"{key}:debt", {}).get("amount", 0), "already": True}
        paid, owed = await take_back(member_id, target["community"], -item.points, key, "deduction",
                                     f"{item.name_zh} / {item.name_en}: {note[:200]}",
                                     f"member:{member_id}:{item.id}", rules.version)
        await audit.record(actor.id, "member.deduct", "member", member_id, target["community"],
                           {"item": item.id, "points": item.points, "note": note[:200], "from_balance": paid,
                            "to_debt": owed})
        return {"points": item.points, "from_balance": paid, "to_debt": owed, "already": False}

    return await write(run)
