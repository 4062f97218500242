"""How a task ended for each member: confirmed (points), or a no-show (the penalty), and a no-show's appeal.

Confirmation files one verified report per task and member — its unique key is
`vocabulary.task_award_key(task, member)` — and the award path (points/reports/awards.py) awards it like any report:
caps applied, debts settled, the outcome in the member's history, exactly once however often the award job
runs. Staff confirm those present (all at once, or some); an item verified `auto` confirms itself when every
check passed (presence.py calls `confirm_if_auto`). Hours come from check-in to check-out (or to the end,
for one staff confirm without a check-out), within the task's window, rounded down to whole hours and at
most the task's units.

The sweep records `penalty.no_show` once for each sign-up never checked in after the window closed (a
conditional state change, and a ledger key of its own). The member may appeal once within the rules'
`appeal_days`; staff grant it (the penalty comes back by compensating transfers) or refuse it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from points import audit, clock, scope
from points.errors import Conflict, Invalid, checked
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.reports.filing import file_verified
from points.reports.reversals import give_back, reverse_award, take_back
from points.scope import Actor
from points.tasks.reading import by_the_hour, task_for, timed
from points.vocabulary import (
    PRESENT,
    AppealState,
    SignupState,
    SubmissionStatus,
    TaskKind,
    TaskStatus,
    TransferCode,
    member_ref,
    no_show_key,
    task_award_key,
    task_correction_key,
)
from rules import Rules, fields, loader

NO_SHOW_ITEM = loader.NO_SHOW_ITEM


def units_earned(rules: Rules, task: dict[str, Any], signup: dict[str, Any], now: datetime) -> int:
    """Whole hours present within the task's window (at most its units); 1 for anything not counted by the hour.
    `now` ends the time of a member who has not checked out."""
    if not by_the_hour(rules, task):
        return 1
    start = max(signup["checked_in_at"], task["starts_at"])
    end = min(signup["checked_out_at"] or now, task["ends_at"])
    return max(0, min(int((end - start).total_seconds() // 3600), task["units"]))


async def _confirm(rules: Rules, task: dict[str, Any], signups: list[dict[str, Any]], by: int | None,
                   counted_to: datetime | None = None) -> list[int]:
    """Confirm these sign-ups of `task` (in the caller's transaction): file each one's report, verified, for the
    award job; a member not checked out is counted to `counted_to` (else to now). Returns the reports filed."""
    now, filed = clock.now(), []
    item = rules.item(task["item_id"])
    for s in map(timed, signups):
        units = units_earned(rules, task, s, counted_to or now)
        sid = None
        if units and item is not None:
            sid = await file_verified(rules, s["member"], task["community"], item, units, task["title"], task["place"],
                                      rules.local_date(task["starts_at"]), task_award_key(task["id"], s["member"]),
                                      by, "task")
        done = await sql(f"UPDATE task_signup SET state = {{}}, units = {{}}, submission = {{}}, confirmed_by = {{}}, "
                         f"updated_at = {{}} WHERE id = {{}} AND state IN ({marks(PRESENT)}) RETURNING id",
                         SignupState.CONFIRMED, units, sid, by, now, s["id"], *PRESENT)
        if done and sid:
            filed.append(sid)
    return filed


async def confirm(actor: Actor, rules: Rules, task_id: int, member_ids: list[int] | None = None,
                  until_end: bool = False) -> dict[str, Any]:
    """Staff confirm who was there: everyone present (one tap), or the members named. A patrol counts once
    every checkpoint is photographed. Confirming again changes nothing. An activity counted by the hour that is
    still running is refused while someone present has not checked out (a click made too early would count
    them 0 hours) — unless staff choose `until_end`: those still there are counted to the planned end."""
    scope.require_staff(actor)

    async def run() -> dict[str, Any]:
        task = await task_for(actor, task_id, lock=True)
        now = clock.now()
        if now < task["starts_at"]:
            raise Conflict("not_started", "the task has not started yet", field="task")
        ready = (SignupState.CHECKED_OUT,) if task["kind"] != TaskKind.ACTIVITY else PRESENT
        only = f" AND member IN ({marks(member_ids)})" if member_ids else ""
        rows = await sql(f"SELECT * FROM task_signup WHERE task = {{}} AND state IN ({marks(ready)}){only} "
                         "ORDER BY id", task_id, *ready, *(member_ids or []))
        if member_ids and len(rows) != len(set(member_ids)):
            raise Conflict("not_present", "only members present (a patrol: every checkpoint done) can be confirmed",
                           field="members")
        still_there = [r for r in rows if r["checked_out_at"] is None]
        running = now < task["ends_at"] and by_the_hour(rules, task)
        if running and still_there and not until_end:
            raise Conflict("before_the_end", "the activity is still running: confirm after its end, or count "
                           "those still there to the planned end (until_end)", field="until_end",
                           ends=task["ends_at"].astimezone(rules.tz).strftime("%m-%d %H:%M"), present=len(still_there))
        filed = await _confirm(rules, task, rows, actor.id, task["ends_at"] if running else None)
        if rows:
            await audit.record(actor.id, "task.confirm", "task", task_id, task["community"],
                               {"members": [r["member"] for r in rows][:200], "reports": len(filed),
                                **({"counted_to": "planned_end"} if running and still_there else {})})
        return {"confirmed": len(rows), "reports": filed}

    return await write(run)


async def correct(actor: Actor, rules: Rules, task_id: int, member_id: int, hours: int, note: str) -> dict[str, Any]:
    """Staff correct the hours a confirmed member was counted (an activity counted by the hour), saying why:
    a report not yet awarded takes the new hours; an awarded one is reversed (a compensating transfer) and a
    report of the new hours filed in its place, awarded like any. The same hours again change nothing."""
    scope.require_staff(actor)
    note = checked(fields.NOTE, "note", (note or "").strip())
    if not note:
        raise Invalid("required", "say why the hours change", field="note")
    checked(fields.COUNTED_HOURS, "hours", hours)

    async def run() -> dict[str, Any]:
        task = await task_for(actor, task_id, lock=True)
        if not by_the_hour(rules, task):
            raise Conflict("not_by_the_hour", "only an activity counted by the hour has hours to correct", field="task")
        if hours > task["units"]:
            raise Invalid("out_of_range", f"at most {task['units']} hours", field="hours", max=task["units"])
        rows = await sql("SELECT * FROM task_signup WHERE task = {} AND member = {}", task_id, member_id)
        if not rows or rows[0]["state"] != SignupState.CONFIRMED:
            raise Conflict("not_confirmed", "only a confirmed member's hours can be corrected", field="member")
        signup, filed = rows[0], []
        if signup["units"] == hours:
            return {"units": hours, "reports": []}
        report = (await sql("SELECT id, status FROM submission WHERE id = {}", signup["submission"]))[0] \
            if signup["submission"] else None
        kept = None
        if report and report["status"] == SubmissionStatus.VERIFIED and hours:  # not awarded yet: it takes the hours
            await sql("UPDATE submission SET units = {} WHERE id = {} AND status = {} RETURNING id", hours,
                      report["id"], SubmissionStatus.VERIFIED)
            kept = report["id"]
        elif report and report["status"] == SubmissionStatus.VERIFIED:  # to 0 hours: once it is awarded
            raise Conflict("award_pending", "the points for these hours are being given now: correct them in a "
                           "minute", field="hours")
        elif report:
            await reverse_award(actor, report["id"], "other", note)  # the note says why the hours changed
        if kept is None and hours and (item := rules.item(task["item_id"])) is not None:
            kept = await file_verified(rules, member_id, task["community"], item, hours, task["title"], task["place"],
                                       rules.local_date(task["starts_at"]),
                                       task_correction_key(task_id, member_id, report["id"] if report else 0),
                                       actor.id, "task")
            filed = [kept] if kept else []
        await sql("UPDATE task_signup SET units = {}, submission = {}, updated_at = {} WHERE id = {} RETURNING id",
                  hours, kept, clock.now(), signup["id"])
        await audit.record(actor.id, "task.correct", "task", task_id, task["community"],
                           {"member": member_id, "from": signup["units"], "to": hours, "note": note[:200]})
        return {"units": hours, "reports": filed}

    return await write(run)


async def confirm_if_auto(rules: Rules, task: dict[str, Any], member_id: int) -> bool:
    """In the caller's transaction: confirm the member now if the task's item is verified `auto`."""
    item = rules.item(task["item_id"])
    if item is None or item.verification != "auto":
        return False
    rows = await sql("SELECT * FROM task_signup WHERE task = {} AND member = {} AND state = {}", task["id"], member_id,
                     SignupState.CHECKED_OUT)
    return bool(await _confirm(rules, task, rows, None))


# ------------------------------------------------------------------ no-shows


async def record_no_shows(rules: Rules, limit: int = 500, communities: list[int] | None = None) -> int:
    """The sweep: sign-ups never checked in, of tasks whose window has closed, become no-shows, each with the
    penalty item once (of the `communities` running `rules`; all when not given). Run it any number of times."""
    if communities == []:
        return 0
    item = rules.item(NO_SHOW_ITEM)
    closed = clock.now() - timedelta(minutes=rules.tasks.late_minutes)
    only = f" AND s.community IN ({marks(communities)})" if communities else ""
    due = await sql("SELECT s.id, s.member, s.task, s.community FROM task_signup s JOIN task t ON t.id = s.task "
                    f"WHERE s.state = {{}} AND t.ends_at < {{}} AND t.status = {{}}{only} ORDER BY s.id LIMIT {{}}",
                    SignupState.SIGNED_UP, closed, TaskStatus.PUBLISHED, *(communities or []), limit)
    recorded = 0
    for s in due:
        async def run(s: dict[str, Any] = s) -> bool:
            await ledger.lock_members([s["member"]])
            done = await sql("UPDATE task_signup SET state = {}, updated_at = {} WHERE id = {} AND state = {} "
                             "RETURNING id", SignupState.NO_SHOW, clock.now(), s["id"], SignupState.SIGNED_UP)
            if not done:
                return False
            if item is not None:
                await take_back(s["member"], s["community"], -item.points, no_show_key(s["task"], s["member"]),
                                TransferCode.DEDUCTION, f"{item.name_zh} / {item.name_en}",
                                member_ref(s["member"], item.id), rules.version)
            await audit.record(None, "task.no_show", "task", s["task"], s["community"],
                               {"member": s["member"], "points": item.points if item else 0})
            return True

        recorded += await write(run)
    return recorded


async def appeal(actor: Actor, rules: Rules, task_id: int, reason: str) -> dict[str, Any]:
    """A no-show's member says why, once, within the rules' days."""
    reason = checked(fields.APPEAL, "reason", (reason or "").strip())
    await task_for(actor, task_id)

    async def run() -> None:
        rows = await sql("SELECT * FROM task_signup WHERE task = {} AND member = {}", task_id, actor.id)
        if not rows or rows[0]["state"] != SignupState.NO_SHOW:
            raise Conflict("not_a_no_show", "only a no-show can be appealed", field="task")
        if rows[0]["appeal_state"]:
            raise Conflict("appealed_already", "a no-show is appealed once", field="task")
        if clock.now() - clock.aware(rows[0]["updated_at"]) > timedelta(days=rules.tasks.appeal_days):
            raise Conflict("appeal_too_late", f"appeals are taken within {rules.tasks.appeal_days} days",
                           field="task", days=rules.tasks.appeal_days)
        await sql("UPDATE task_signup SET appeal = {}, appeal_state = {} WHERE id = {} AND appeal_state = {}",
                  reason, AppealState.PENDING, rows[0]["id"], AppealState.NONE)

    await write(run)
    return {"task_id": task_id, "appeal_state": AppealState.PENDING}


async def decide_appeal(actor: Actor, task_id: int, member_id: int, grant: bool, note: str = "") -> dict[str, Any]:
    """Staff grant an appeal (the no-show is excused and its penalty given back) or refuse it (a note says
    why); once."""
    scope.require_staff(actor)
    note = checked(fields.NOTE, "note", (note or "").strip())
    scope.not_own(actor, member_id, "appeal")

    async def run() -> dict[str, Any]:
        task = await task_for(actor, task_id)
        await ledger.lock_members([member_id])
        state = AppealState.GRANTED if grant else AppealState.REFUSED
        done = await sql("UPDATE task_signup SET appeal_state = {}, appeal_note = {}, state = {}, updated_at = {} "
                         "WHERE task = {} AND member = {} AND state = {} AND appeal_state = {} RETURNING id",
                         state, note, SignupState.EXCUSED if grant else SignupState.NO_SHOW, clock.now(), task_id,
                         member_id, SignupState.NO_SHOW, AppealState.PENDING)
        if not done:
            raise Conflict("no_pending_appeal", "there is no appeal waiting on this", field="member")
        returned = await give_back(member_id, task["community"], no_show_key(task_id, member_id), NO_SHOW_ITEM) if grant else 0
        await audit.record(actor.id, f"task.appeal_{'grant' if grant else 'refuse'}", "task", task_id,
                           task["community"], {"member": member_id, "note": note[:200], "returned": returned})
        return {"task_id": task_id, "member_id": member_id, "appeal_state": state, "returned": returned}

    return await write(run)
