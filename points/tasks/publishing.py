"""Tasks members sign up for and do — a volunteer activity (志愿活动), a patrol with checkpoints (巡查任务), a
recheck of a case's fix offered to members (复查) — each tied to an earning item of the rules file.

Staff of a community publish its tasks, and call them off; its riders and residents (as the task allows)
see them (points/tasks/reading.py) and sign up (points/tasks/signups.py). Presence is
points/tasks/presence.py's; confirmation, no-shows and appeals are points/tasks/attendance.py's.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from points import audit, clock, scope
from points.errors import Conflict, DomainError, Invalid, NotFound, checked, collected
from points.infra.db import sql, write
from points.scope import Actor
from points.tasks.reading import task_for, view
from points.vocabulary import (
    CaseState,
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


def _check_times(problems: list[DomainError], starts: datetime, ends: datetime, closes: datetime,
                 now: datetime) -> None:
    if ends <= starts:
        problems.append(Invalid("ends_before_start", "the end must come after the start", field="ends_at"))
    elif ends - starts > timedelta(hours=fields.TASK_HOURS.high):
        problems.append(Invalid("out_of_range", f"a task runs at most {fields.TASK_HOURS.high} hours",
                                field="ends_at", max=fields.TASK_HOURS.high))
    if ends <= now:
        problems.append(Invalid("in_the_past", "the task would be over already", field="ends_at"))
    if closes > ends:
        problems.append(Invalid("closes_after_end", "sign-up must close by the end", field="signup_closes_at"))


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
    moments = {"starts_at": new.starts_at, "ends_at": new.ends_at, "signup_closes_at": closes}
    meant = len(problems)
    for name, moment in moments.items():
        _check(problems, fields.MOMENT, name, moment)
    if len(problems) == meant:  # times someone can mean: compared with each other and with now
        _check_times(problems, new.starts_at, new.ends_at, closes, now)
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
