"""Staff decide on reports: verify (perhaps re-classifying it to another item) or reject.

States: submitted → verified → awarded (points/awards.py) → reversed (points/reversals.py), or submitted →
rejected. An award over the four-eyes threshold passes submitted → awaiting_second → verified, the second
approval by a different staff member. Nobody decides on their own report. Staff act only within their own
community: every lookup goes through `points.scope`, and anything outside it answers 404 with no effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from points import audit, clock, scope
from points.db import sql, write
from points.errors import Conflict, Invalid
from points.intake import require_member_item
from points.outcomes import REJECT_REASONS
from points.scope import Actor
from points.submissions import scoped_submission
from points.vocabulary import MemberStatus, SubmissionStatus
from rules import Rules


async def verify(actor: Actor, rules: Rules, submission_id: int, item_id: str | None = None,
                 note: str = "") -> None:
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
                    note, now)
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
                note: str, now: datetime) -> None:
    done = await sql("UPDATE submission SET status = {}, item_id = {}, priority = {}, verified_by = {}, "
                     "verified_at = {}, verify_note = {} WHERE id = {} AND status = {} RETURNING id",
                     to_status, item_id, priority, actor.id, now, note.strip()[:1000], submission_id, from_status)
    if not done:
        raise Conflict("already_decided", "this report was decided by someone else just now")


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
