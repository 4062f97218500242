"""Tasks members sign up for and do — a volunteer activity (志愿活动), a patrol with checkpoints (巡查任务), a
recheck of a case's fix offered to members (复查) — each tied to an earning item of the rules file.

Staff of a community publish its tasks; its riders and residents (as the task allows) see them and sign up.
Sign-up is decided under the member's account lock and then the task's row lock (PostgreSQL; SQLite's write
lock does the same), so a rush never overfills the slots, a member never holds two activities whose times
overlap, and the item's daily and monthly caps count the hours already promised. A member cancels only
before sign-up closes. Anyone outside the task's community finds nothing (404) and changes nothing.
Presence is points/tasks/presence.py's; confirmation, no-shows and appeals are points/tasks/attendance.py's.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from points import audit, clock, scope
from points.areas import geo
from points.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, checked, collected
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.reports import awards
from points.scope import Actor
from points.tasks.codes import pass_code
from points.vocabulary import (
    HOLDING_SLOT,
    REPORTER_ROLES,
    STAFF_ROLES,
    AccountKind,
    CaseState,
    SignupState,
    TaskKind,
    TaskStatus,
)
from points.wording import both
from rules import Rules, fields

WHO = ("rider", "resident", "both")
RECHECKABLE = (CaseState.DISPOSED, CaseState.RECHECKING)  # a fix waiting to be looked at
RECHECK_ITEM = "service.patrol_task"  # what a recheck earns unless staff choose otherwise


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lng: float
    what: str = ""


@dataclass(frozen=True)
class NewTask:
    """What staff publish. A recheck takes its place from its case's report; a patrol needs checkpoints."""

    kind: str
    title: str
    item: str
    starts_at: datetime
    ends_at: datetime
    slots: int
    description: str = ""
    place: str = ""
    lat: float | None = None
    lng: float | None = None
    radius_m: int = 200
    signup_closes_at: datetime | None = None  # the start when not given
    who: str = "both"
    units: int | None = None  # hours, for an item counted by the hour; the task's length when not given
    checkpoints: list[Place] = field(default_factory=list)
    case: int | None = None


def _where(lat: Any, lng: Any, name: str = "location") -> list[DomainError]:
    if lat is None or lng is None:
        return [Invalid("location_required", "a place (lat and lng) is needed", field=name)]
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or not (math.isfinite(lat) and math.isfinite(lng)):
        return [Invalid("invalid_location", "lat must be within ±90 and lng within ±180", field=name)]
    return []


def _check(problems: list[DomainError], spec: Any, name: str, value: Any) -> Any:
    try:
        return checked(spec, name, value)
    except DomainError as exc:
        problems.append(exc)
        return value


def units_for(rules: Rules, item_id: str, starts_at: datetime, ends_at: datetime, asked: int | None = None) -> int:
    """What a full attendance counts: whole hours (at most the item's max_units) for an item counted by the
    hour, else 1."""
    item = rules.item(item_id)
    if item is None or item.unit != "hour":
        return 1
    hours = int((ends_at - starts_at).total_seconds() // 3600)
    return max(1, min(asked or hours, hours or 1, item.max_units))


async def publish(actor: Actor, rules: Rules, new: NewTask) -> dict[str, Any]:
    """Publish a task in the staff member's community; every problem of the form is named at once."""
    scope.require_staff(actor)
    actor.require_active("publish tasks")
    # A time given without its zone (a page's date-and-time field) is the scheme's local time.
    new = replace(new, **{name: moment.replace(tzinfo=rules.tz) for name in ("starts_at", "ends_at", "signup_closes_at")
                          if (moment := getattr(new, name)) is not None and moment.tzinfo is None})
    problems: list[DomainError] = []
    if new.kind not in tuple(TaskKind):
        problems.append(Invalid("invalid_choice", f"kind must be one of {', '.join(TaskKind)}", field="kind"))
    _check(problems, fields.TASK_TITLE, "title", new.title.strip())
    _check(problems, fields.TASK_DESCRIPTION, "description", new.description)
    _check(problems, fields.ADDRESS, "place", new.place)
    item = rules.item(new.item)
    if item is None or item.points <= 0:
        problems.append(Invalid("unknown_item", f"{new.item!r} is not an earning item of the rules file", field="item"))
    if new.who not in WHO:
        problems.append(Invalid("invalid_choice", f"who must be one of {', '.join(WHO)}", field="who"))
    _check(problems, fields.SLOTS, "slots", new.slots)
    _check(problems, fields.RADIUS_M, "radius_m", new.radius_m)
    now = clock.now()
    closes = new.signup_closes_at or new.starts_at
    if new.ends_at <= new.starts_at:
        problems.append(Invalid("ends_before_start", "the end must come after the start", field="ends_at"))
    elif new.ends_at - new.starts_at > timedelta(hours=fields.TASK_HOURS.high):
        problems.append(Invalid("out_of_range", f"a task runs at most {fields.TASK_HOURS.high} hours",
                                field="ends_at", max=fields.TASK_HOURS.high))
    if new.ends_at <= now:
        problems.append(Invalid("in_the_past", "the task would be over already", field="ends_at"))
    if closes > new.ends_at:
        problems.append(Invalid("closes_after_end", "sign-up must close by the end", field="signup_closes_at"))
    lat, lng, place, checkpoints, case_id = new.lat, new.lng, new.place.strip(), list(new.checkpoints), None
    if new.kind == TaskKind.RECHECK:
        report = await _recheck_place(actor, new.case, problems)
        if report:
            lat, lng, case_id = report["lat"], report["lng"], report["case_id"]
            place = place or report["address"]
            checkpoints = [Place(place[:100] or new.title.strip()[:100], lat, lng, report["what"])]
    else:
        problems += _where(lat, lng)
    if new.kind in (TaskKind.PATROL, TaskKind.RECHECK):
        if new.kind == TaskKind.PATROL and not checkpoints:
            problems.append(Invalid("checkpoints_required", "a patrol needs at least one checkpoint",
                                    field="checkpoints", min=1))
        elif len(checkpoints) > fields.CHECKPOINTS.high:
            problems.append(Invalid("out_of_range", f"at most {fields.CHECKPOINTS.high} checkpoints",
                                    field="checkpoints", max=fields.CHECKPOINTS.high))
        for n, cp in enumerate(checkpoints):
            _check(problems, fields.CHECKPOINT_NAME, f"checkpoints[{n}].name", cp.name.strip())
            _check(problems, fields.CHECKPOINT_WHAT, f"checkpoints[{n}].what", cp.what.strip())
            problems += _where(cp.lat, cp.lng, f"checkpoints[{n}]")
    collected(problems)
    assert item is not None and lat is not None and lng is not None
    units = 1 if new.kind != TaskKind.ACTIVITY else units_for(rules, item.id, new.starts_at, new.ends_at, new.units)

    async def run() -> int:
        task_id = (await sql(
            "INSERT INTO task (community, kind, title, description, item_id, units, place, lat, lng, radius_m, "
            "starts_at, ends_at, signup_closes_at, slots, who, \"case\", secret, status, created_by, created_at) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
            actor.community_id, new.kind, new.title.strip(), new.description.strip(), item.id, units, place, lat, lng,
            new.radius_m, new.starts_at, new.ends_at, closes, new.slots, new.who, case_id, secrets.token_hex(20),
            TaskStatus.PUBLISHED, actor.id, clock.now()))[0]["id"]
        for n, cp in enumerate(checkpoints):
            await sql("INSERT INTO task_checkpoint (task, position, name, what, lat, lng) "
                      "VALUES ({}, {}, {}, {}, {}, {})", task_id, n + 1, cp.name.strip(), cp.what.strip(), cp.lat, cp.lng)
        await audit.record(actor.id, "task.publish", "task", task_id, actor.community_id,
                           {"kind": new.kind, "title": new.title.strip()[:100], "item": item.id, "slots": new.slots})
        return task_id

    return await view(actor, rules, await write(run))


async def _recheck_place(actor: Actor, case_id: int | None, problems: list[DomainError]) -> dict[str, Any] | None:
    """Where a recheck goes: the place of the case's report (a case of the staff member's community whose fix
    waits to be looked at)."""
    if case_id is None:
        problems.append(Invalid("required", "a recheck needs its case", field="case"))
        return None
    try:
        row = await scope.one(actor, "case_file c JOIN submission s ON s.id = c.submission", case_id, "case",
                              select="c.id AS case_id, c.state, s.lat, s.lng, s.address, s.item_id", prefix="c.")
    except NotFound:
        problems.append(Invalid("unknown_case", "no such case in your community", field="case"))
        return None
    if row["state"] not in RECHECKABLE:
        problems.append(Invalid("case_not_disposed", "only a case its unit says is fixed can be rechecked",
                                field="case", state=row["state"]))
        return None
    if row["lat"] is None:
        problems.append(Invalid("case_has_no_place", "the case's report has no place to go to", field="case"))
        return None
    return {**row, "what": both("task", "recheck_what")[:fields.CHECKPOINT_WHAT.max_length]}


# ------------------------------------------------------------------ reading

TIMES = ("starts_at", "ends_at", "signup_closes_at", "created_at", "checked_in_at", "checked_out_at")


def timed(row: dict[str, Any]) -> dict[str, Any]:
    """A task or sign-up row with its times aware, whichever database it came from."""
    return {k: clock.aware(v) if k in TIMES and v is not None else v for k, v in row.items()}


async def task_for(actor: Actor, task_id: int, lock: bool = False) -> dict[str, Any]:
    """The task if the actor may see it (points/scope.py); else 404. `lock`: its row, until commit."""
    return timed(await scope.task(actor, task_id, lock))


async def _taken(task_ids: list[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    rows = await sql(f"SELECT task, COUNT(*) AS n FROM task_signup WHERE task IN ({marks(task_ids)}) "
                     f"AND state IN ({marks(HOLDING_SLOT)}) GROUP BY task", *task_ids, *HOLDING_SLOT)
    return {r["task"]: r["n"] for r in rows}


async def _checkpoints(task_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {t: [] for t in task_ids}
    if task_ids:
        for r in await sql(f"SELECT id, task, position, name, what, lat, lng FROM task_checkpoint "
                           f"WHERE task IN ({marks(task_ids)}) ORDER BY task, position", *task_ids):
            out[r["task"]].append({k: r[k] for k in ("id", "position", "name", "what", "lat", "lng")})
    return out


async def _signups_of(member_id: int, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not task_ids:
        return {}
    rows = await sql(f"SELECT * FROM task_signup WHERE member = {{}} AND task IN ({marks(task_ids)})",
                     member_id, *task_ids)
    return {r["task"]: r for r in rows}


async def _views(rules: Rules, rows: list[dict[str, Any]], member_id: int | None = None,
                 near: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    taken, points, mine = await _taken(ids), await _checkpoints(ids), await _signups_of(member_id, ids) if member_id else {}
    out = []
    for r in map(timed, rows):
        item = rules.item(r["item_id"])
        signup = mine.get(r["id"])
        signup = timed(signup) if signup else None
        out.append({
            "id": r["id"], "kind": r["kind"], "title": r["title"], "description": r["description"],
            "item_id": r["item_id"], "item_name_zh": item.name_zh if item else r["item_id"],
            "item_name_en": item.name_en if item else r["item_id"], "units": r["units"],
            "points": (item.points * r["units"]) if item else 0, "unit": item.unit if item else "",
            "place": r["place"], "lat": r["lat"], "lng": r["lng"], "radius_m": r["radius_m"],
            "starts_at": r["starts_at"], "ends_at": r["ends_at"], "signup_closes_at": r["signup_closes_at"],
            "slots": r["slots"], "taken": taken.get(r["id"], 0), "who": r["who"], "status": r["status"],
            "case_id": r["case"], "checkpoints": points[r["id"]],
            "distance_m": round(geo.distance_m(near[0], near[1], r["lat"], r["lng"])) if near else None,
            "my_state": signup["state"] if signup else None,
            "my_signup": {**_signup_brief(signup), "pass_code": pass_code(r["secret"], signup["member"])}
            if signup else None,
        })
    return out


def _signup_brief(s: dict[str, Any]) -> dict[str, Any]:
    return {"state": s["state"], "checked_in_at": s["checked_in_at"], "checked_in_by": s["checked_in_by"],
            "checked_out_at": s["checked_out_at"], "units": s["units"], "submission_id": s["submission"],
            "appeal": s["appeal"], "appeal_state": s["appeal_state"], "appeal_note": s["appeal_note"]}


async def view(actor: Actor, rules: Rules, task_id: int) -> dict[str, Any]:
    row = await task_for(actor, task_id)
    return (await _views(rules, [row], None if actor.role in STAFF_ROLES else actor.id))[0]


async def open_tasks(actor: Actor, rules: Rules, near: tuple[float, float] | None = None,
                     limit: int = 50) -> list[dict[str, Any]]:
    """The community's published tasks not yet over that the member may join: soonest first, or nearest
    first when the phone gave its place (then soonest)."""
    rows = await sql("SELECT * FROM task WHERE community = {} AND status = {} AND ends_at > {} "
                     "ORDER BY starts_at, id LIMIT {}", actor.community_id, TaskStatus.PUBLISHED, clock.now(), 500)
    if actor.role in REPORTER_ROLES:
        rows = [r for r in rows if r["who"] in ("both", actor.role)]
    views = await _views(rules, rows, actor.id, near)
    if near:
        views.sort(key=lambda v: (v["distance_m"], v["starts_at"]))
    return views[:limit]


async def mine(actor: Actor, rules: Rules, limit: int = 50) -> list[dict[str, Any]]:
    """The member's tasks (not those they cancelled), the latest start first."""
    rows = await sql("SELECT t.* FROM task t JOIN task_signup s ON s.task = t.id WHERE s.member = {} "
                     "AND s.state <> {} ORDER BY t.starts_at DESC, t.id DESC LIMIT {}", actor.id,
                     SignupState.CANCELLED, limit)
    return await _views(rules, rows, actor.id)


async def listing(actor: Actor, rules: Rules, limit: int = 100) -> list[dict[str, Any]]:
    """Staff: the community's tasks, the latest start first."""
    where, args = scope.clause(actor)
    rows = await sql(f"SELECT * FROM task WHERE true{where} ORDER BY starts_at DESC, id DESC LIMIT {{}}",
                     *args, limit)
    return await _views(rules, rows)


async def last_published(actor: Actor, rules: Rules) -> dict[str, Any] | None:
    """The community's latest task, to publish the next one from a copy (copy-from-last)."""
    where, args = scope.clause(actor)
    rows = await sql(f"SELECT * FROM task WHERE kind <> {{}}{where} ORDER BY id DESC LIMIT 1",
                     TaskKind.RECHECK, *args)
    return (await _views(rules, rows))[0] if rows else None


async def roster(actor: Actor, task_id: int) -> list[dict[str, Any]]:
    """Staff: who signed up for the task and how it is going, with each patrol's photos."""
    await scope.one(actor, "task", task_id, "task")
    rows = await sql("SELECT s.*, m.name, m.role FROM task_signup s JOIN member m ON m.id = s.member "
                     "WHERE s.task = {} AND s.state <> {} ORDER BY s.id", task_id, SignupState.CANCELLED)
    photos: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    if rows:
        for p in await sql(f"SELECT id, signup, checkpoint, taken_at, created_at FROM task_photo "
                           f"WHERE signup IN ({marks(list(photos))}) ORDER BY id", *photos):
            photos[p["signup"]].append(p)
    return [{"member_id": r["member"], "name": r["name"], "role": r["role"], **_signup_brief(timed(r)),
             "photos": photos[r["id"]]} for r in rows]


# ------------------------------------------------------------------ signing up


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
        if (await _taken([task_id])).get(task_id, 0) >= task["slots"]:
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
                      "VALUES ({}, {}, {}, {}, {}, '', '', '', '', {}, {})",
                      f"{task_id}:{actor.id}", task_id, actor.id, actor.community_id, SignupState.SIGNED_UP, now, now)

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


async def withdraw(actor: Actor, rules: Rules, task_id: int, note: str) -> dict[str, Any]:
    """Staff call a task off (rain, an emergency): nobody can sign up or check in any more, and nobody who
    signed up is counted a no-show. Its members see it called off, with the reason."""
    scope.require_staff(actor)
    note = checked(fields.NOTE, "note", (note or "").strip())
    if not note:
        raise Invalid("required", "say why the task is called off", field="note")

    async def run() -> None:
        task = await task_for(actor, task_id, lock=True)
        done = await sql("UPDATE task SET status = {}, cancelled_at = {}, description = {} WHERE id = {} AND status = {} "
                         "RETURNING id", TaskStatus.CANCELLED, clock.now(),
                         f"{note}\n\n{task['description']}".strip()[:fields.TASK_DESCRIPTION.max_length],
                         task_id, TaskStatus.PUBLISHED)
        if not done:
            raise Conflict("task_cancelled", "this task was called off already", field="task")
        await audit.record(actor.id, "task.cancel", "task", task_id, task["community"], {"note": note[:200]})

    await write(run)
    return await view(actor, rules, task_id)


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
