"""Taking points back: clawback of an award found false or duplicate, and staff deductions.

Nothing is edited. Points come back by compensating transfers: from the
member's spendable balance as far as it goes, and the rest as a debt (the
member's debt account goes below zero by what is owed). The next awards settle
the debt first (points/reports/awards.py). A spendable balance never goes negative,
and reversing the same award twice changes nothing: every transfer is keyed on
the award, and the submission moves awarded → reversed once.
"""

from __future__ import annotations

from typing import Any

from points import audit, clock, idempotency, scope
from points.errors import Conflict, Forbidden, Invalid
from points.infra.db import sql, write
from points.ledger import transfers as ledger
from points.ledger.transfers import DEBT, ISSUANCE, LIFETIME, LIFETIME_ISSUANCE, SPENDABLE, TransferSpec
from points.scope import REPORTER_ROLES, Actor
from points.vocabulary import (
    MemberStatus,
    SubmissionStatus,
    TransferCode,
    lifetime_key,
    member_ref,
    owed_key,
    refund_key,
    reversal_key,
    submission_ref,
)
from points.wording import both
from rules import Rules

REVERSE_REASONS = ("false_report", "duplicate", "wrong_item", "fraud", "other")


async def _member_accounts(member_id: int) -> dict[str, dict[str, Any]]:
    """The member's accounts by kind, locked (members first, as everywhere)."""
    return {r["kind"]: r for r in await ledger.lock_members([member_id])}


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
        transfers.append(TransferSpec(owed_key(key), accounts[DEBT]["id"], issuance, owed, code,
                                      f"{reason} (owed: spent already)", ref, rules_version))
    if lifetime:
        transfers.append(TransferSpec(lifetime_key(key), accounts[LIFETIME]["id"],
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
        scope.not_own_report(actor, row)
        if row["status"] == SubmissionStatus.REVERSED:
            return {"reversed": 0, "from_balance": 0, "to_debt": 0, "already": True}
        if row["status"] != SubmissionStatus.AWARDED:
            raise Conflict("not_awarded", f"only an awarded report can be reversed; this one is {row['status']}")
        points = row["points"] or 0
        paid = owed = 0
        if points > 0:
            paid, owed = await take_back(row["member"], row["community"], points,
                                         reversal_key(submission_id), TransferCode.REVERSAL,
                                         f"{both('ledger', 'reversal')}: {reason}", submission_ref(submission_id),
                                         row["award_rules_version"], lifetime=points)
        done = await sql("UPDATE submission SET status = {}, reversed_by = {}, reversed_at = {}, "
                         "reverse_reason = {} WHERE id = {} AND status = {} RETURNING id", SubmissionStatus.REVERSED,
                         actor.id, clock.now(), f"{reason}: {note.strip()}"[:500] if note.strip() else reason,
                         submission_id, SubmissionStatus.AWARDED)
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
    if item is None or not item.is_deduction:
        raise Invalid("unknown_deduction", f"{item_id!r} is not a deduction item of the rules file", field="item")
    if not idempotency_key:
        raise Invalid("required", "Idempotency-Key is required: a deduction must be safe to retry",
                      field=idempotency.HEADER)
    note = (note or "").strip()
    if not note:
        raise Invalid("required", "note is required: say what happened", field="note")
    # The key is the acting staff member's (as every Idempotency-Key is the sender's): their retry of one
    # deduction is that deduction, whoever it was against.
    key = idempotency.stored(actor.id, idempotency.Operation.DEDUCTION, idempotency_key)

    async def run() -> dict[str, Any]:
        target = await scope.one(actor, "member", member_id, "member")
        if target["id"] == actor.id or target["role"] not in REPORTER_ROLES or target["status"] == MemberStatus.DELETED:
            raise Forbidden("not_deductible", "deductions apply to riders and residents, never to oneself")
        # Under the member's lock, so concurrent retries of one key see each other: the first writes, the rest
        # are answered with what it did.
        await _member_accounts(member_id)
        earlier = {e["idempotency_key"]: e for e in await sql(
            "SELECT idempotency_key, amount, ref FROM transfer WHERE idempotency_key IN ({}, {})", key, owed_key(key))}
        if earlier:
            if any(e["ref"] != member_ref(member_id, item.id) for e in earlier.values()):
                raise idempotency.reused("another deduction")
            return {"points": item.points, "from_balance": earlier.get(key, {}).get("amount", 0),
                    "to_debt": earlier.get(owed_key(key), {}).get("amount", 0), "already": True}
        paid, owed = await take_back(member_id, target["community"], -item.points, key, TransferCode.DEDUCTION,
                                     f"{item.name_zh} / {item.name_en}: {note[:200]}",
                                     member_ref(member_id, item.id), rules.version)
        await audit.record(actor.id, "member.deduct", "member", member_id, target["community"],
                           {"item": item.id, "points": item.points, "note": note[:200], "from_balance": paid,
                            "to_debt": owed})
        return {"points": item.points, "from_balance": paid, "to_debt": owed, "already": False}

    return await write(run)


async def give_back(member_id: int, community_id: int, key: str, item_id: str) -> int:
    """Undo what the transfers under `key` took: what came from the balance goes back to it; what was booked as
    debt is forgiven as far as it is still owed, and any of it since paid goes back to the balance (a penalty's
    granted appeal; `item_id` the penalty's item). In the caller's transaction; returns the points given back."""
    taken = {r["idempotency_key"]: r["amount"] for r in await sql(
        "SELECT idempotency_key, amount FROM transfer WHERE idempotency_key IN ({}, {})", key, owed_key(key))}
    accounts = {r["kind"]: r for r in await ledger.lock_members([member_id])}
    issuance = (await ledger.accounts_by_key([ledger.community_account_key(ISSUANCE, community_id)])).popitem()[1]
    owed = taken.get(owed_key(key), 0)
    forgiven = min(owed, -accounts[DEBT]["balance"])
    to_balance = taken.get(key, 0) + owed - forgiven
    reason = both("ledger", "appeal_granted")
    ref = member_ref(member_id, item_id)
    transfers = []
    if to_balance:
        transfers.append(TransferSpec(refund_key(key), issuance, accounts[SPENDABLE]["id"], to_balance,
                                      TransferCode.REVERSAL, reason, ref))
    if forgiven:
        transfers.append(TransferSpec(refund_key(owed_key(key)), issuance, accounts[DEBT]["id"], forgiven,
                                      TransferCode.REVERSAL, reason, ref))
    await ledger.post(transfers)
    return to_balance + forgiven
