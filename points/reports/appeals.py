"""申诉: a member appeals a penalty the engine gave them, from its line in their points history; staff decide.

Only a penalty `vocabulary.appealable_penalty` names may be appealed (恶意重复刷报, given by the sweep in
points/reports/spam.py; a no-show is appealed on its task, points/tasks/attendance.py). A penalty is appealed
once (the appeal's unique key is the penalty's ledger key), by the member it was taken from, within the scheme's
`[scheme.duplicates] appeal_days`. Staff of the member's community decide once, never on their own penalty:
granted, the points come back by compensating transfers (`reversals.give_back`: the balance, or the debt
forgiven); refused, with a note the member reads. Every step is audited in its transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from points import audit, clock, scope
from points.errors import Conflict, checked
from points.infra.db import marks, sql, touches, write
from points.ledger import transfers as ledger
from points.reports.reversals import give_back
from points.scope import Actor
from points.vocabulary import AppealState, TransferCode, appealable_penalty, owed_key
from rules import Rules, fields
from rules.loader import SPAM_ITEM

WRITTEN = "key, member, community, points, reason, state, note, decided_by, created_at, updated_at"
COLUMNS = "id, " + WRITTEN


async def appeal(actor: Actor, rules: Rules, transfer_id: int, reason: str) -> dict[str, Any]:
    """The member's appeal of the penalty behind `transfer_id` (a line of their own history), once."""
    reason = checked(fields.APPEAL, "reason", (reason or "").strip())

    async def run() -> dict[str, Any]:
        line = await scope.own_debit(actor, transfer_id)
        actor.require_active("appeal")
        penalty = appealable_penalty(line["idempotency_key"]) if line["code"] == TransferCode.DEDUCTION else None
        if penalty is None:
            raise Conflict("not_appealable", "only a penalty the engine gave can be appealed here", field="transfer")
        if clock.now() - clock.aware(line["created_at"]) > timedelta(days=rules.duplicates.appeal_days):
            raise Conflict("appeal_too_late", f"appeals are taken within {rules.duplicates.appeal_days} days",
                           field="transfer", days=rules.duplicates.appeal_days)
        key = penalty.key
        taken = await sql("SELECT COALESCE(SUM(amount), 0) AS points FROM transfer WHERE idempotency_key IN ({}, {})",
                          key, owed_key(key))
        now = clock.now()
        rows = await sql(f"INSERT INTO penalty_appeal ({WRITTEN}) "
                         "VALUES ({}, {}, {}, {}, {}, {}, '', NULL, {}, {}) ON CONFLICT (key) DO NOTHING "
                         f"RETURNING {COLUMNS}", key, actor.id, line["community"], int(taken[0]["points"]), reason,
                         AppealState.PENDING, now, now)
        if not rows:
            raise Conflict("appealed_already", "a penalty is appealed once", field="transfer")
        touches([line["community"]])  # the member's kept history shows it
        await audit.record(actor.id, "penalty.appeal", "member", actor.id, line["community"],
                           {"key": key, "reason": reason[:200]})
        return view(rows[0])

    return await write(run)


async def decide(actor: Actor, appeal_id: int, grant: bool, note: str = "") -> dict[str, Any]:
    """Staff grant an appeal (the penalty comes back) or refuse it (the note says why); once."""
    scope.require_staff(actor)
    actor.require_active("decide appeals")
    note = checked(fields.NOTE, "note", (note or "").strip())

    async def run() -> dict[str, Any]:
        row = await scope.one(actor, "penalty_appeal", appeal_id, "appeal")
        scope.not_own(actor, row["member"], "appeal")
        await ledger.lock_members([row["member"]])
        state = AppealState.GRANTED if grant else AppealState.REFUSED
        rows = await sql(f"UPDATE penalty_appeal SET state = {{}}, note = {{}}, decided_by = {{}}, updated_at = {{}} "
                         f"WHERE id = {{}} AND state = {{}} RETURNING {COLUMNS}",
                         state, note, actor.id, clock.now(), appeal_id, AppealState.PENDING)
        if not rows:
            raise Conflict("no_pending_appeal", "this appeal was decided already", field="appeal")
        returned = await give_back(row["member"], row["community"], row["key"], SPAM_ITEM) if grant else 0
        touches([row["community"]])
        await audit.record(actor.id, f"penalty.appeal_{'grant' if grant else 'refuse'}", "member", row["member"],
                           row["community"], {"key": row["key"], "note": note[:200], "returned": returned})
        return {**view(rows[0]), "returned": returned}

    return await write(run)


async def waiting(actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
    """The appeals staff have to decide, oldest first, with who appealed."""
    where, args = scope.clause(actor, "pa.community")
    rows = await sql("SELECT pa.*, m.name AS member_name FROM penalty_appeal pa "
                     f"JOIN member m ON m.id = pa.member WHERE pa.state = {{}}{where} ORDER BY pa.id LIMIT {{}}",
                     AppealState.PENDING, *args, limit)
    return [{**view(r), "member_name": r["member_name"]} for r in rows]


async def count_waiting(actor: Actor) -> int:
    """How many appeals wait for the staff's decision (the queue page says so)."""
    where, args = scope.clause(actor)
    return (await sql("SELECT COUNT(*) AS n FROM penalty_appeal WHERE state = {}" + where, AppealState.PENDING,
                      *args))[0]["n"]


async def of_history(actor: Actor, rules: Rules, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The member's history lines, each with `appeal`: what became of its penalty's appeal ({state, note}), or
    whether it may be appealed now (state "" and `open`); None for a line that is no appealable penalty."""
    keys = {line["id"]: key for line in lines if line["points"] < 0 and line["code"] == TransferCode.DEDUCTION
            and (penalty := appealable_penalty(line["idempotency_key"])) and (key := penalty.key)}
    found = {r["key"]: r for r in await sql(
        f"SELECT key, state, note FROM penalty_appeal WHERE member = {{}} AND key IN ({marks(keys.values())})",
        actor.id, *keys.values())} if keys else {}
    since = clock.now() - timedelta(days=rules.duplicates.appeal_days)
    out = []
    for line in lines:
        appeal_row, key = found.get(keys.get(line["id"], "")), keys.get(line["id"])
        if key is None:
            out.append({**line, "appeal": None})
        elif appeal_row:
            out.append({**line, "appeal": {"state": appeal_row["state"], "note": appeal_row["note"], "open": False}})
        else:
            out.append({**line, "appeal": {"state": AppealState.NONE, "note": "",
                                           "open": clock.aware(line["created_at"]) >= since}})
    return out


def view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "member_id": row["member"], "community_id": row["community"], "points": row["points"],
            "day": appealable_penalty(row["key"]).day.isoformat(), "reason": row["reason"], "state": row["state"], "note": row["note"],
            "decided_by": row["decided_by"], "created_at": row["created_at"], "updated_at": row["updated_at"]}
