"""Staff decide on reports: verify (perhaps re-classifying it to another item) or reject.

States: submitted → verified → awarded (points/reports/awards.py) → reversed (points/reports/reversals.py), or submitted →
rejected. An award over the four-eyes threshold passes submitted → awaiting_second → verified, the second
approval by a different staff member. Nobody decides on their own report. Staff act only within their own
community: every lookup goes through `points.scope`, and anything outside it answers 404 with no effect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from points import audit, clock, scope
from points.errors import Conflict, DomainError, Invalid
from points.infra.db import marks, sql, write
from points.reports.intake import require_member_item
from points.reports.outcomes import REJECT_REASONS
from points.reports.views import batchable, scoped_submission, staff_view
from points.scope import Actor
from points.vocabulary import MemberStatus, SubmissionStatus
from rules import Rules


async def verify(actor: Actor, rules: Rules, submission_id: int, item_id: str | None = None,
                 note: str = "", award_after: datetime | None = None) -> None:
    """Approve a report, optionally re-classifying it to another item.

    An award worth more than the rules file's `second_approval_over` needs a second approval by a
    different staff member (four-eyes): the first leaves it awaiting_second, and no points move before
    the second. Nobody approves their own report, nor the same report twice.
    """

    async def run() -> None:
        row = await scoped_submission(actor, submission_id)
        scope.not_own_report(actor, row)
        if row["status"] not in (SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND):
            raise Conflict("already_decided", f"this report is already {row['status']}")
        now = clock.now()
        if row["status"] == SubmissionStatus.AWAITING_SECOND:
            if item_id and item_id != row["item_id"]:
                raise Conflict("already_classified", f"the first approver chose {row['item_id']}: approve it as "
                               "that item or reject it", field="item")
            if not await _approve(submission_id, actor.id, now):
                raise Conflict("second_approver_needed", "a different staff member must give the second approval")
            await _move(submission_id, SubmissionStatus.AWAITING_SECOND, SubmissionStatus.VERIFIED, row["item_id"], row["priority"], actor, note,
                        now)
            await audit.record(actor.id, "submission.verify", "submission", submission_id, row["community"],
                               {"note": note.strip()[:200], "approval": 2})
            return
        new_item, priority = row["item_id"], row["priority"]
        if item_id and item_id != row["item_id"]:
            member = Actor(row["member"], row["member_role"], row["community"], "", MemberStatus.ACTIVE)
            chosen = require_member_item(rules, member, item_id)
            new_item, priority = chosen.id, chosen.priority
        item = rules.item(new_item)
        worth = (item.points if item else 0) * row["units"]
        two = rules.second_approval_over is not None and worth > rules.second_approval_over
        await _approve(submission_id, actor.id, now)
        await _move(submission_id, SubmissionStatus.SUBMITTED,
                    SubmissionStatus.AWAITING_SECOND if two else SubmissionStatus.VERIFIED, new_item, priority, actor,
                    note, now, award_after)
        details: dict[str, Any] = {"note": note.strip()[:200], "approval": 1}
        if two:
            details["awaiting_second"] = True
        if new_item != row["item_id"]:
            details.update({"from_item": row["item_id"], "to_item": new_item})
        await audit.record(actor.id, "submission.reclassify" if new_item != row["item_id"] else "submission.verify",
                           "submission", submission_id, row["community"], details)

    await write(run)


async def _approve(submission_id: int, approver: int, now: datetime) -> bool:
    """Record one staff member's approval; False if they gave it already."""
    return bool(await sql("INSERT INTO approval (key, submission, approver, created_at) VALUES ({}, {}, {}, {}) "
                          "ON CONFLICT (key) DO NOTHING RETURNING id", f"{submission_id}:{approver}", submission_id,
                          approver, now))


async def _move(submission_id: int, from_status: str, to_status: str, item_id: str, priority: str, actor: Actor,
                note: str, now: datetime, award_after: datetime | None = None) -> None:
    done = await sql("UPDATE submission SET status = {}, item_id = {}, priority = {}, verified_by = {}, "
                     "verified_at = {}, verify_note = {}, award_after = {} WHERE id = {} AND status = {} RETURNING id",
                     to_status, item_id, priority, actor.id, now, note.strip()[:1000], award_after, submission_id,
                     from_status)
    if not done:
        raise Conflict("already_decided", "this report was decided by someone else just now")


async def verify_batch(actor: Actor, rules: Rules, ids: list[int]) -> dict[str, Any]:
    """Approve many simple reports at once (the queue's 批量通过): each that `submissions.batchable` allows, in
    its own transaction, so one refused report never fails the rest. Their points wait out the scheme's undo
    window (`[scheme.batch]`), within which `undo_batch` takes the approval back; the sweep awards them after.
    Returns {"verified": [ids], "refused": {id: code}, "undo_until": moment}."""
    until = clock.now() + timedelta(minutes=rules.batch.undo_minutes)
    verified, refused = [], {}
    for sid in dict.fromkeys(ids):
        try:
            view = await staff_view(actor, rules, sid)
            if not batchable(rules, view):
                raise Conflict("not_batchable", "this report needs to be looked at on its own")
            await verify(actor, rules, sid, None, "", award_after=until)
            verified.append(sid)
        except DomainError as exc:
            refused[sid] = exc.code
    return {"verified": verified, "refused": refused, "undo_until": until}


async def undo_batch(actor: Actor, ids: list[int]) -> list[int]:
    """Take back a batch approval of one's own while its undo window lasts: the reports go back to the queue
    as they were (no points had moved). Returns the ids taken back; any other id is left as it is."""
    clause, args = scope.clause(actor)

    async def run() -> list[int]:
        rows = await sql(f"UPDATE submission SET status = {{}}, verified_by = NULL, verified_at = NULL, "
                         f"verify_note = '', award_after = NULL WHERE id IN ({marks(ids)}) AND status = {{}} "
                         "AND verified_by = {} AND award_after > {}" + clause + " RETURNING id, community",
                         SubmissionStatus.SUBMITTED, *ids, SubmissionStatus.VERIFIED, actor.id, clock.now(), *args)
        back = sorted(r["id"] for r in rows)
        if back:
            await sql(f"DELETE FROM approval WHERE approver = {{}} AND submission IN ({marks(back)})", actor.id, *back)
        for r in rows:
            await audit.record(actor.id, "submission.undo", "submission", r["id"], r["community"], {"batch": True})
        return back

    return await write(run) if ids else []


async def reject(actor: Actor, submission_id: int, reason: str, note: str = "") -> None:
    if reason not in REJECT_REASONS:
        raise Invalid("invalid_reason", f"reason must be one of {', '.join(REJECT_REASONS)}", field="reason")

    async def run() -> None:
        row = await scoped_submission(actor, submission_id)
        scope.not_own_report(actor, row)
        done = await sql("UPDATE submission SET status = {}, reject_reason = {}, verify_note = {}, "
                         "verified_by = {}, verified_at = {} WHERE id = {} AND status IN ({}, {}) RETURNING id",
                         SubmissionStatus.REJECTED, reason, note.strip()[:1000], actor.id, clock.now(), submission_id,
                         SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND)
        if not done:
            raise Conflict("already_decided", f"this report is already {row['status']}")
        await audit.record(actor.id, "submission.reject", "submission", submission_id, row["community"],
                           {"reason": reason, "note": note.strip()[:200]})

    await write(run)
