"""Signing up for a task and giving the place back. Sign-up is decided under the member's account lock and then
the task's row lock (PostgreSQL; SQLite's write lock does the same), so a rush never overfills the slots, a
member never holds two activities whose times overlap, and the item's daily and monthly caps count the hours
already promised. A member cancels only before sign-up closes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from points import clock, scope
from points.errors import Conflict, Forbidden
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.reports import awards
from points.scope import Actor
from points.tasks.reading import taken_slots, task_for, view
from points.vocabulary import (
    HOLDING_SLOT,
    AccountKind,
    AppealState,
    CheckedInBy,
    SignupState,
    TaskKind,
    TaskStatus,
)
from rules import Rules


async def signup(actor: Actor, rules: Rules, task_id: int) -> dict[str, Any]:
    """Take a slot on the task; signing up again for a task one holds changes nothing."""
    actor.require_active("sign up for tasks")
    scope.require_reporter(actor, "sign up for tasks")

    async def run() -> None:
        await ledger.lock_members([actor.id], (AccountKind.SPENDABLE,))
        task, now = await task_for(actor, task_id, lock=True), clock.now()
        held = await sql("SELECT id, state FROM task_signup WHERE task = {} AND member = {}", task_id, actor.id)
        if held and held[0]["state"] in HOLDING_SLOT:
            return
        if held and held[0]["state"] != SignupState.CANCELLED:
            raise Conflict("signup_over", "this task is over for you", field="task", state=held[0]["state"])
        if task["status"] != TaskStatus.PUBLISHED:
            raise Conflict("task_cancelled", "this task was cancelled", field="task")
        if now >= task["signup_closes_at"]:
            raise Conflict("signup_closed", "sign-up for this task has closed", field="task")
        if task["who"] not in ("both", actor.role):
            raise Forbidden("role_not_eligible", f"this task is for {task['who']}s", field="task")
        if (await taken_slots([task_id])).get(task_id, 0) >= task["slots"]:
            raise Conflict("task_full", "every place on this task is taken", field="task", slots=task["slots"])
        # An activity needs the member there for its whole time; a patrol is walked when it suits them.
        clash = task["kind"] == TaskKind.ACTIVITY and await sql(
            f"SELECT t.title FROM task_signup s JOIN task t ON t.id = s.task WHERE s.member = {{}} "
            f"AND s.state IN ({marks(HOLDING_SLOT)}) AND t.id <> {{}} AND t.kind = {{}} AND t.status = {{}} "
            "AND t.starts_at < {} AND t.ends_at > {} LIMIT 1",
            actor.id, *HOLDING_SLOT, task_id, TaskKind.ACTIVITY, TaskStatus.PUBLISHED, task["ends_at"],
            task["starts_at"])
        if clash:
            raise Conflict("overlapping_task", f"you are signed up for {clash[0]['title']} at the same time",
                           field="task", title=clash[0]["title"])
        await _within_caps(rules, actor.id, task)
        if held:
            await sql("UPDATE task_signup SET state = {}, updated_at = {} WHERE id = {}",
                      SignupState.SIGNED_UP, now, held[0]["id"])
        else:
            await sql("INSERT INTO task_signup (key, task, member, community, state, checked_in_by, appeal, "
                      "appeal_state, appeal_note, created_at, updated_at) "
                      "VALUES ({}, {}, {}, {}, {}, {}, '', {}, '', {}, {})",
                      f"{task_id}:{actor.id}", task_id, actor.id, actor.community_id, SignupState.SIGNED_UP,
                      CheckedInBy.NONE, AppealState.NONE, now, now)

    await write(run)
    return await view(actor, rules, task_id)


async def _within_caps(rules: Rules, member_id: int, task: dict[str, Any]) -> None:
    """The item's daily and monthly caps (in units) hold with this task's units added to what the member
    earned of the item and holds sign-ups for, that day and that month."""
    item = rules.item(task["item_id"])
    if item is None:
        raise Conflict("item_withdrawn", "this task's item is no longer in the rules", field="task")
    day = rules.local_date(task["starts_at"])
    month_start = day.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    for cap, since, until, code in ((item.daily_cap, day, day + timedelta(days=1), "cap.item_daily"),
                                    (item.monthly_cap, month_start, month_end, "cap.item_monthly")):
        if cap is None:
            continue
        # A sign-up's units count until its confirmation files a report; then the report's do.
        earned = await awards.units_counted(member_id, item.id, since, until)
        tz_since = datetime.combine(since, datetime.min.time(), rules.tz)
        tz_until = datetime.combine(until, datetime.min.time(), rules.tz)
        promised = await sql(f"SELECT COALESCE(SUM(t.units), 0) AS n FROM task_signup s JOIN task t ON t.id = s.task "
                             f"WHERE s.member = {{}} AND t.item_id = {{}} AND s.state IN ({marks(HOLDING_SLOT[:-1])}) "
                             "AND t.status = {} AND t.starts_at >= {} AND t.starts_at < {}",
                             member_id, item.id, *HOLDING_SLOT[:-1], TaskStatus.PUBLISHED, tz_since, tz_until)
        if earned + promised[0]["n"] + task["units"] > cap:
            raise Conflict("task_cap_reached", "this would take you past the item's cap", field="task", cap=cap,
                           which=code)


async def cancel(actor: Actor, rules: Rules, task_id: int) -> dict[str, Any]:
    """Give the slot back, before sign-up closes."""
    task = await task_for(actor, task_id)

    async def run() -> None:
        if clock.now() >= task["signup_closes_at"]:
            raise Conflict("signup_closed", "sign-up has closed: tell the organiser instead", field="task")
        done = await sql("UPDATE task_signup SET state = {}, updated_at = {} WHERE task = {} AND member = {} "
                         "AND state = {} RETURNING id", SignupState.CANCELLED, clock.now(), task_id, actor.id,
                         SignupState.SIGNED_UP)
        if not done:
            raise Conflict("not_signed_up", "you hold no place on this task to give back", field="task")

    await write(run)
    return await view(actor, rules, task_id)
