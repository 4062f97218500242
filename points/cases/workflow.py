"""The case of a verified problem (交办 → 处置 → 复查 → 办结) and the one state machine it follows.

A report of an item the rules file marks `case = true` opens a case when it is awarded (not a duplicate:
the first report's case is the problem's). TRANSITIONS says, per action, the states a case may leave and
the state it reaches; `_move` is the one place a case changes state — a conditional UPDATE on the state
it was read in, with its timeline event and audit row in the same transaction. Who may act: staff of the
case's community dispatch (交办, with a deadline from the rules file's [cases.deadlines] and the working-day
calendar), resolve on the spot (就地解决) and recheck (复查: close, or reopen to the same unit with a new
deadline); handlers of the unit it went to accept it, return it as not theirs (回退, within the rules'
window) or dispose of it (处置: a note and at least one after-photo). The reporter reads its timeline.
Anyone else finds nothing (404) and changes nothing. Cases never move points.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from points import audit, clock, scope
from points.cases import outbox, units
from points.clock import aware
from points.errors import Conflict, DomainError, Invalid, NotFound, checked, collected
from points.infra import photo_store
from points.infra.db import marks, sql, write
from points.infra.photo_store import PhotoStore
from points.infra.sms import Sender
from points.privacy import coarse
from points.reports.intake import PhotoLimits, cleaned_photos
from points.scope import Actor
from points.vocabulary import SERVICE_PHONE_PREFIX, CaseAction, CaseState, MemberStatus, Role
from points.wording import pair
from rules import Rules, fields
from rules.workdays import Calendar, Deadline, load_calendar

S = CaseState
A = CaseAction
TRANSITIONS: dict[str, tuple[tuple[CaseState, ...], CaseState]] = {
    A.DISPATCH: ((S.OPEN, S.RETURNED), S.DISPATCHED),
    A.RESOLVE: ((S.OPEN, S.RETURNED), S.RESOLVED_ON_SITE),
    A.ACCEPT: ((S.DISPATCHED,), S.ACCEPTED),
    A.RETURN: ((S.DISPATCHED, S.ACCEPTED), S.RETURNED),
    A.DISPOSE: ((S.ACCEPTED,), S.DISPOSED),
    A.RECHECK: ((S.DISPOSED,), S.RECHECKING),
    A.CLOSE: ((S.RECHECKING,), S.CLOSED),
    A.REOPEN: ((S.RECHECKING, S.CLOSED), S.DISPATCHED),  # a failed recheck; or after an unsatisfied rating, once
}
STAFF_ACTIONS = (A.DISPATCH, A.RESOLVE, A.RECHECK, A.CLOSE, A.REOPEN)
HANDLER_ACTIONS = (A.ACCEPT, A.RETURN, A.DISPOSE)
WITH_UNIT = (S.DISPATCHED, S.ACCEPTED, S.DISPOSED, S.RECHECKING)  # states a deadline runs or ran in
_calendar: Calendar | None = None


def calendar() -> Calendar:
    global _calendar
    if _calendar is None:
        _calendar = load_calendar()
    return _calendar


def deadlines(rules: Rules, priority: str, start: datetime) -> tuple[Deadline, Deadline]:
    """The deadline and the hard limit for a case of `priority` dispatched at `start`."""
    spec, cal = rules.cases.deadlines[priority], calendar()
    if spec.hours:
        return cal.after_hours(start, spec.hours), cal.after_hours(start, spec.hard_hours or spec.hours)
    return (cal.after_working_days(start, spec.working_days, rules.tz),
            cal.after_working_days(start, spec.hard_working_days or spec.working_days, rules.tz))


# ------------------------------------------------------------------ opening


async def open_cases(rules: Rules, reports: list[dict[str, Any]]) -> int:
    """Open the case of each awarded report ({id, community, item_id}) whose item opens one; once per report,
    inside the award's transaction. Returns how many opened."""
    now, opened = clock.now(), 0
    for r in reports:
        item = rules.item(r["item_id"])
        if item is None or not item.case:
            continue
        rows = await sql("INSERT INTO case_file (submission, community, state, priority, deadline_assumed, note, "
                         "reopened, created_at, updated_at) VALUES ({}, {}, {}, {}, '', '', 0, {}, {}) "
                         "ON CONFLICT (submission) DO NOTHING RETURNING id",
                         r["id"], r["community"], S.OPEN, item.priority, now, now)
        if rows:
            await _event(rows[0]["id"], A.OPEN, S.OPEN, None, None, "", now)
            opened += 1
            await _auto_dispatch(rules, rows[0]["id"], r["community"])
    return opened


async def _auto_dispatch(rules: Rules, case_id: int, community_id: int) -> None:
    """A community that forwards all its cases (points/cases/forwarding.py, `auto_dispatch`): the new case goes to the
    forwarded unit at once, dispatched by that unit's service account."""
    linked = await sql("SELECT f.unit, f.member FROM forwarding f JOIN unit_community uc ON uc.unit = f.unit "
                       "WHERE uc.community = {} AND f.auto_dispatch = {} AND f.disabled_at IS NULL ORDER BY f.id "
                       "LIMIT 1", community_id, True)
    if linked:
        row = (await sql("SELECT * FROM case_file WHERE id = {}", case_id))[0]
        await _dispatch(await units.service_actor(linked[0]["member"]), rules, row, A.DISPATCH, linked[0]["unit"], "")


# ------------------------------------------------------------------ who sees what


# ------------------------------------------------------------------ the state machine


async def _event(case_id: int, action: str, state: str, actor_id: int | None, unit_id: int | None, note: str,
                 now: datetime) -> int:
    return (await sql("INSERT INTO case_event (\"case\", action, state, actor, unit, note, created_at) "
                      "VALUES ({}, {}, {}, {}, {}, {}, {}) RETURNING id",
                      case_id, action, state, actor_id, unit_id, note, now))[0]["id"]


async def _move(actor: Actor, row: dict[str, Any], action: str, said: str = "",
                **changes: Any) -> tuple[int, datetime]:
    """Take `row` through `action`: refused (409, naming the state) unless TRANSITIONS allows it from the
    state it is in now; the timeline event and the audit row go with it. Returns (event id, when)."""
    leaves, reaches = TRANSITIONS[action]
    if row["state"] not in leaves:
        raise Conflict("wrong_state", f"a case that is {row['state']} cannot be {action}ed", field="state",
                       state=row["state"])
    now = clock.now()
    sets = {"state": reaches, "updated_at": now, **changes}
    assignments = ", ".join(f"{column} = {{}}" for column in sets)
    done = await sql(f"UPDATE case_file SET {assignments} WHERE id = {{}} AND state = {{}} RETURNING id",
                     *sets.values(), row["id"], row["state"])
    if not done:
        raise Conflict("wrong_state", "the case changed just now; look again", field="state")
    event = await _event(row["id"], action, reaches, actor.id, changes.get("unit", row["unit"]), said, now)
    await outbox.record({**row, **sets}, action, event, actor.id if action in HANDLER_ACTIONS else None)
    await audit.record(actor.id, f"case.{action}", "case", row["id"], row["community"],
                       {"state": reaches, **({"note": said[:200]} if said else {}),
                        **({"unit": changes["unit"]} if "unit" in changes else {})})
    return event, now


def _require(actor: Actor, action: str) -> None:
    if action in STAFF_ACTIONS:
        scope.require_staff(actor)
    if action in HANDLER_ACTIONS:
        scope.require_handler(actor)
    actor.require_active(action)


def _note(note: str, required: bool = True) -> str:
    note = (note or "").strip()
    if not required and not note:
        return ""
    return checked(fields.CASE_NOTE, "note", note)


async def dispatch(actor: Actor, rules: Rules, case_id: int, unit_id: int, note: str = "") -> dict[str, Any]:
    """交办: hand the case to a unit serving its community, with a deadline."""
    _require(actor, A.DISPATCH)
    note = _note(note, required=False)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if not await units.serves(unit_id, row["community"]):
            raise Invalid("unknown_unit", "no unit with this id serves the case's community", field="unit")
        await _dispatch(actor, rules, row, A.DISPATCH, unit_id, note)

    await write(run)
    return await view(actor, case_id)


async def _dispatch(actor: Actor, rules: Rules, row: dict[str, Any], action: str, unit_id: int, said: str,
                    **changes: Any) -> None:
    due, hard = deadlines(rules, row["priority"], clock.now())
    assumed = ",".join(str(y) for y in sorted(set(due.assumed) | set(hard.assumed)))
    await _move(actor, row, action, said, unit=unit_id, deadline=due.at, hard_deadline=hard.at,
                deadline_assumed=assumed, **changes)


async def accept(actor: Actor, case_id: int) -> dict[str, Any]:
    _require(actor, A.ACCEPT)

    async def run() -> None:
        await _move(actor, await scope.case(actor, case_id), A.ACCEPT)

    await write(run)
    return await view(actor, case_id)


async def return_case(actor: Actor, rules: Rules, case_id: int, reason: str) -> dict[str, Any]:
    """回退: not this unit's to fix, within the rules' window after dispatch; staff dispatch it again."""
    _require(actor, A.RETURN)
    reason = _note(reason)

    async def run() -> None:
        await _return(actor, rules, await scope.case(actor, case_id), reason)

    await write(run)
    return await view(actor, case_id)


async def _return(actor: Actor, rules: Rules, row: dict[str, Any], reason: str) -> None:
    since = await sql("SELECT MAX(created_at) AS at FROM case_event WHERE \"case\" = {} AND action IN "
                      "({}, {})", row["id"], A.DISPATCH, A.REOPEN)
    dispatched = since[0]["at"]
    if isinstance(dispatched, str):
        dispatched = datetime.fromisoformat(dispatched)
    window = calendar().after_working_days(dispatched, rules.cases.return_working_days, rules.tz)
    if row["state"] in TRANSITIONS[A.RETURN][0] and clock.now() > window.at:
        raise Conflict("return_too_late", f"a case can be returned within {rules.cases.return_working_days} "
                       "working days of its dispatch", field="state", days=rules.cases.return_working_days)
    await _move(actor, row, A.RETURN, reason, note=reason)


async def move_for_unit(actor: Actor, rules: Rules, row: dict[str, Any], action: str, note: str) -> None:
    """A handler's move that the unit's outside system asked for (points/cases/forwarding.py), inside the caller's
    transaction: the same state machine and checks as the handler's own, except that the disposal's evidence
    stays in that system — staff's recheck (复查) is what closes the case."""
    _require(actor, action)
    if action == A.ACCEPT:
        await _move(actor, row, A.ACCEPT)
    elif action == A.RETURN:
        await _return(actor, rules, row, _note(note))
    elif action == A.DISPOSE:
        note = _note(note)
        await _move(actor, row, A.DISPOSE, note, note=note, disposed_by=actor.id)
    else:
        raise Invalid("invalid_choice", f"action must be one of {', '.join(HANDLER_ACTIONS)}", field="action")


async def dispose(actor: Actor, case_id: int, note: str, uploads: list[bytes], store: PhotoStore,
                  limits: PhotoLimits) -> dict[str, Any]:
    """处置完成: the handler's note and at least one photo of the fix."""
    return await _with_photos(actor, case_id, A.DISPOSE, note, uploads, store, limits)


async def resolve_on_site(actor: Actor, case_id: int, note: str, uploads: list[bytes], store: PhotoStore,
                          limits: PhotoLimits) -> dict[str, Any]:
    """就地解决: staff fixed it there and then, with a note and a photo."""
    return await _with_photos(actor, case_id, A.RESOLVE, note, uploads, store, limits)


async def _with_photos(actor: Actor, case_id: int, action: str, note: str, uploads: list[bytes], store: PhotoStore,
                       limits: PhotoLimits) -> dict[str, Any]:
    _require(actor, action)
    problems: list[DomainError] = []
    try:
        note = _note(note)
    except DomainError as exc:
        problems.append(exc)
    if not uploads:
        problems.append(Invalid("photos_required", "a photo of the fix is needed", field="photos", min=1))
    elif len(uploads) > limits.max_photos:
        problems.append(Invalid("too_many_photos", f"at most {limits.max_photos} photos", field="photos",
                                max=limits.max_photos))
    collected(problems)
    photos = await cleaned_photos(uploads, limits)
    names = await photo_store.save_all(store, photos)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        changes = {"disposed_by": actor.id} if action == A.DISPOSE else {}
        event, now = await _move(actor, row, action, note, note=note, **changes)
        for photo, name in zip(photos, names, strict=True):
            await sql("INSERT INTO case_photo (\"case\", event, path, sha256, width, height, size, taken_at, exif_lat, "
                      "exif_lng) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})", case_id, event, name, photo.sha256,
                      photo.width, photo.height, len(photo.jpeg),
                      photo.taken_at.replace(tzinfo=UTC) if photo.taken_at else None, photo.lat, photo.lng)

    try:
        await write(run)
    except BaseException:
        await photo_store.discard(store, names)
        raise
    return await view(actor, case_id)


async def recheck(actor: Actor, case_id: int) -> dict[str, Any]:
    """复查 begins: a staff member goes to see whether the fix holds."""
    _require(actor, A.RECHECK)

    async def run() -> None:
        await _move(actor, await scope.case(actor, case_id), A.RECHECK)

    await write(run)
    return await view(actor, case_id)


async def conclude(actor: Actor, rules: Rules, case_id: int, fixed: bool, note: str) -> dict[str, Any]:
    """The recheck's finding: 办结 when the fix holds; else reopened to the same unit, its deadline anew."""
    _require(actor, A.CLOSE if fixed else A.REOPEN)
    note = _note(note, required=not fixed)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if fixed:
            await _move(actor, row, A.CLOSE, note, note=note or row["note"])
        else:
            await _dispatch(actor, rules, row, A.REOPEN, row["unit"], note, note=note, reopened=row["reopened"] + 1)

    await write(run)
    return await view(actor, case_id)


async def reopen_unsatisfied(actor: Actor, rules: Rules, case_id: int, note: str) -> dict[str, Any]:
    """A closed case its reporter rated unsatisfied (1 or 2) goes back to its unit, once."""
    _require(actor, A.REOPEN)
    note = _note(note)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["state"] != S.CLOSED or row["rating"] is None or row["rating"] > UNSATISFIED:
            raise Conflict("not_unsatisfied", "only a closed case its reporter rated 1 or 2 is reopened so",
                           field="state")
        again = await sql("SELECT id FROM case_event WHERE \"case\" = {} AND action = {} AND created_at > {}",
                          case_id, A.REOPEN, row["rated_at"])
        if again:
            raise Conflict("reopened_already", "a case is reopened once after its rating", field="state")
        await _dispatch(actor, rules, row, A.REOPEN, row["unit"], note, note=note, reopened=row["reopened"] + 1)

    await write(run)
    return await view(actor, case_id)


# ------------------------------------------------------------------ 延期: extensions


async def ask_extension(actor: Actor, case_id: int, until: datetime, reason: str) -> dict[str, Any]:
    """The unit asks for more time, with a reason: never past the hard limit. Staff grant or refuse it."""
    _require(actor, A.ACCEPT)  # the unit's handlers, as they accept
    reason = _note(reason)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["state"] not in HANDLER_STATES:
            raise Conflict("wrong_state", f"a case that is {row['state']} has no deadline to extend", field="state",
                           state=row["state"])
        if until <= aware(row["deadline"]) or until > aware(row["hard_deadline"]):
            raise Invalid("extension_out_of_range", "ask for a time after the deadline and no later than the hard "
                          "limit", field="until", deadline=str(row["deadline"]), hard_deadline=str(row["hard_deadline"]))
        now = clock.now()
        await sql("UPDATE case_file SET extension_until = {}, extension_reason = {}, updated_at = {} WHERE id = {} "
                  "RETURNING id", until, reason, now, case_id)
        await _event(case_id, A.ASK_EXTENSION, row["state"], actor.id, row["unit"], reason, now)
        await audit.record(actor.id, "case.ask_extension", "case", case_id, row["community"],
                           {"until": until.isoformat(), "reason": reason[:200]})

    await write(run)
    return await view(actor, case_id)


async def decide_extension(actor: Actor, case_id: int, grant: bool, note: str = "") -> dict[str, Any]:
    """Staff grant the extension asked (the deadline moves to it) or refuse it (the deadline stands)."""
    _require(actor, A.DISPATCH)
    note = _note(note, required=not grant)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["extension_until"] is None or row["state"] not in HANDLER_STATES:
            raise Conflict("no_extension_asked", "no extension is waiting for a decision", field="state")
        now = clock.now()
        moved = {"deadline": row["extension_until"]} if grant else {}
        sets = {"extension_until": None, "extension_reason": "", "updated_at": now, **moved}
        assignments = ", ".join(f"{column} = {{}}" for column in sets)
        await sql(f"UPDATE case_file SET {assignments} WHERE id = {{}} RETURNING id", *sets.values(), case_id)
        action = A.GRANT_EXTENSION if grant else A.REFUSE_EXTENSION
        await _event(case_id, action, row["state"], actor.id, row["unit"], note, now)
        await audit.record(actor.id, f"case.{action}", "case", case_id, row["community"],
                           {"until": str(row["extension_until"]), **({"note": note[:200]} if note else {})})

    await write(run)
    return await view(actor, case_id)


# ------------------------------------------------------------------ 回访: the reporter's rating

UNSATISFIED = 2  # a rating this low or lower puts the case in front of staff


async def rate(actor: Actor, rules: Rules, case_id: int, stars: int, comment: str = "") -> dict[str, Any]:
    """The reporter rates how their problem was handled: 1–5 and a comment, once, within the rules'
    `rate_days` of its closing."""
    scope.require_reporter(actor, "rate a case: its reporter", "reporters_only")
    checked(fields.RATING, "stars", stars)
    comment = checked(fields.NOTE, "comment", (comment or "").strip())

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["state"] not in (S.CLOSED, S.RESOLVED_ON_SITE):
            raise Conflict("wrong_state", "a case is rated once it is closed", field="state", state=row["state"])
        closed = (await sql("SELECT MAX(created_at) AS at FROM case_event WHERE \"case\" = {} AND action IN "
                            "({}, {})", case_id, A.CLOSE, A.RESOLVE))[0]["at"]
        if clock.now() - aware(closed) > timedelta(days=rules.cases.rate_days):
            raise Conflict("rating_too_late", f"a case is rated within {rules.cases.rate_days} days of closing",
                           field="stars", days=rules.cases.rate_days)
        now = clock.now()
        done = await sql("UPDATE case_file SET rating = {}, rating_comment = {}, rated_at = {}, updated_at = {} "
                         "WHERE id = {} AND rated_at IS NULL RETURNING id", stars, comment, now, now, case_id)
        if not done:
            raise Conflict("rated_already", "this case has its rating", field="stars")
        await _event(case_id, A.RATE, row["state"], actor.id, row["unit"], "", now)
        await audit.record(actor.id, "case.rate", "case", case_id, row["community"], {"stars": stars})

    await write(run)
    return await view(actor, case_id)


# ------------------------------------------------------------------ 督办: chasing what is late


async def chase(rules: Rules, sender: Sender) -> dict[str, int]:
    """The sweep's look at deadlines: a case in a unit's hands past its deadline is told once per deadline
    (a timeline event, and a text to the unit's handlers and the community's staff); one past its hard limit
    goes on the community head's list (escalated), once. Repeats find nothing more to do."""
    now, told, escalated = clock.now(), 0, 0
    late = await sql(f"SELECT * FROM case_file WHERE state IN ({marks(HANDLER_STATES)}) AND deadline < {{}}",
                     *HANDLER_STATES, now)
    for row in late:
        async def one(row: dict[str, Any] = row) -> tuple[bool, bool]:
            chased = await sql("UPDATE case_file SET chased_for = deadline WHERE id = {} AND deadline < {} AND "
                               "(chased_for IS NULL OR chased_for <> deadline) RETURNING id", row["id"], now)
            if chased:
                await _event(row["id"], A.CHASE, row["state"], None, row["unit"], "", now)
            over = await sql("UPDATE case_file SET escalated = {} WHERE id = {} AND hard_deadline < {} AND escalated = {} "
                             "RETURNING id", True, row["id"], now, False)
            if over:
                await _event(row["id"], A.ESCALATE, row["state"], None, row["unit"], "", now)
            return bool(chased), bool(over)

        chased, over = await write(one)
        told, escalated = told + chased, escalated + over
        if chased or over:
            phones = await sql("SELECT phone FROM member WHERE status = {} AND phone NOT LIKE {} AND "
                               "((role = {} AND unit = {}) OR (role = {} AND community = {}))",
                               MemberStatus.ACTIVE, f"{SERVICE_PHONE_PREFIX}%", Role.HANDLER, row["unit"], Role.STAFF, row["community"])
            words = " ".join(pair("sms", "case_escalated" if over else "case_overdue", case=str(row["id"])))
            for p in phones:
                await sender.send(p["phone"], words)
    return {"cases_chased": told, "cases_escalated": escalated}


# ------------------------------------------------------------------ reading


async def view(actor: Actor, case_id: int) -> dict[str, Any]:
    """A case with its timeline, as the actor may see it (the reporter: states, times, units, photos)."""
    row = await scope.case(actor, case_id)
    return (await _views(actor, [row]))[0]


async def for_report(actor: Actor, submission_id: int) -> dict[str, Any] | None:
    """The case of a report, if it has one and the actor may see it."""
    rows = await sql("SELECT id FROM case_file WHERE submission = {}", submission_id)
    if not rows:
        return None
    try:
        return await view(actor, rows[0]["id"])
    except NotFound:
        return None


async def of_my_reports(actor: Actor, submission_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The cases of the acting member's own reports among `submission_ids`, by report, with their timelines."""
    if not submission_ids:
        return {}
    rows = await sql(f"SELECT c.* FROM case_file c JOIN submission s ON s.id = c.submission WHERE s.member = {{}} "
                     f"AND c.submission IN ({marks(submission_ids)})", actor.id, *submission_ids)
    return {v["submission_id"]: v for v in await _views(actor, rows)}


async def listing(actor: Actor, state: str | None = None, unit_id: int | None = None,
                  limit: int = 100, needs_look: bool = False, grid: str | None = None) -> list[dict[str, Any]]:
    """Staff: their community's cases (by state or unit), overdue and soonest deadline first. Handlers: their
    unit's cases still in its hands, soonest deadline first."""
    if actor.role == Role.HANDLER:
        rows = await sql(f"SELECT * FROM case_file WHERE unit = {{}} AND state IN ({marks(HANDLER_STATES)}) "
                         "ORDER BY deadline, id LIMIT {}", await scope.handler_unit(actor), *HANDLER_STATES, limit)
    else:
        where, args = scope.clause(actor)
        if state:
            where, args = where + " AND state = {}", [*args, state]
        if unit_id:
            where, args = where + " AND unit = {}", [*args, unit_id]
        if grid:
            where, args = where + (" AND submission IN (SELECT s.id FROM submission s JOIN grid g ON g.id = s.grid "
                                   "WHERE g.code = {})"), [*args, grid]
        if needs_look:  # escalated, or rated unsatisfied: in front of staff
            where, args = where + " AND (escalated = {} OR rating <= {})", [*args, True, UNSATISFIED]
        rows = await sql("SELECT * FROM case_file WHERE true" + where +
                         " ORDER BY CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline, id LIMIT {}", *args, limit)
    return await _views(actor, rows, timeline=False)


HANDLER_STATES = (S.DISPATCHED, S.ACCEPTED)


async def _views(actor: Actor, rows: list[dict[str, Any]], timeline: bool = True) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    unit_ids = sorted({r["unit"] for r in rows if r["unit"]})
    names = {u["id"]: u for u in await sql(f"SELECT id, kind, name FROM unit WHERE id IN ({marks(unit_ids)})",
                                            *unit_ids)} if unit_ids else {}
    events: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    photos: dict[int, list[int]] = {}
    if timeline:
        for p in await sql(f"SELECT id, event FROM case_photo WHERE \"case\" IN ({marks(ids)}) ORDER BY id", *ids):
            photos.setdefault(p["event"], []).append(p["id"])
        unit_names = dict(names)
        for e in await sql(f"SELECT * FROM case_event WHERE \"case\" IN ({marks(ids)}) ORDER BY id", *ids):
            if e["unit"] and e["unit"] not in unit_names:
                unit_names.update({u["id"]: u for u in await sql("SELECT id, kind, name FROM unit WHERE id = {}",
                                                                   e["unit"])})
            events[e["case"]].append({
                "action": e["action"], "state": e["state"], "at": e["created_at"],
                "unit": unit_names[e["unit"]]["name"] if e["unit"] else None, "photos": photos.get(e["id"], []),
                # what staff and handlers wrote is for them; the reporter sees the steps, the unit and the photo
                **({"note": e["note"]} if actor.role != Role.RIDER and actor.role != Role.RESIDENT else {})})
    now = clock.now()
    insiders = actor.role not in (Role.RIDER, Role.RESIDENT)
    reports: dict[int, dict[str, Any]] = {}
    if insiders:  # what the unit needs to find and fix it (never who reported it)
        sids = [r["submission"] for r in rows]
        for s in await sql("SELECT s.id, s.item_id, s.description, s.address, s.lat, s.lng, s.submitted_at, "
                           f"g.code AS grid FROM submission s LEFT JOIN grid g ON g.id = s.grid WHERE s.id IN ({marks(sids)})",
                           *sids):
            reports[s["id"]] = {**s, "photos": []}
        for p in await sql(f"SELECT id, submission FROM photo WHERE submission IN ({marks(sids)}) ORDER BY id", *sids):
            reports[p["submission"]]["photos"].append(p["id"])
    return [{
        "id": r["id"], "submission_id": r["submission"], "state": r["state"], "priority": r["priority"],
        "unit": {"id": r["unit"], "kind": names[r["unit"]]["kind"], "name": names[r["unit"]]["name"]}
        if r["unit"] else None,
        "deadline": r["deadline"], "hard_deadline": r["hard_deadline"] if insiders else None,
        "deadline_counted_weekdays_only": [int(y) for y in r["deadline_assumed"].split(",") if y] if insiders else [],
        "overdue": bool(r["deadline"]) and r["state"] in (S.DISPATCHED, S.ACCEPTED) and aware(r["deadline"]) < now,
        "note": r["note"] if insiders else "", "reopened": r["reopened"],
        "escalated": bool(r["escalated"]) if insiders else False,
        "extension_until": r["extension_until"] if insiders else None,
        "extension_reason": r["extension_reason"] if insiders else "",
        "rating": r["rating"], "rating_comment": r["rating_comment"] if insiders or r["rating"] else "",
        "rated_at": r["rated_at"],
        "timeline": events[r["id"]] if timeline else None,
        "report": reports.get(r["submission"]),
    } for r in rows]


async def recently_fixed(community_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """For the community's public page: its latest closed cases — the item, the grid, a rounded place, the
    photo of the fix, the days it took. Never who reported or fixed it, never a precise place."""
    rows = await sql("SELECT c.id, c.created_at, c.updated_at, s.item_id, s.lat, s.lng, g.code AS grid, "
                     "(SELECT MIN(p.id) FROM case_photo p WHERE p.\"case\" = c.id) AS photo "
                     "FROM case_file c JOIN submission s ON s.id = c.submission LEFT JOIN grid g ON g.id = s.grid "
                     "WHERE c.community = {} AND c.state IN ({}, {}) ORDER BY c.updated_at DESC, c.id DESC LIMIT {}",
                     community_id, S.CLOSED, S.RESOLVED_ON_SITE, limit)
    return [{"id": r["id"], "item_id": r["item_id"], "grid": r["grid"], "lat": coarse(r["lat"]), "lng": coarse(r["lng"]),
             "photo": r["photo"], "closed_at": r["updated_at"],
             "days": max(0, (aware(r["updated_at"]) - aware(r["created_at"])).days)} for r in rows]


async def public_photo_path(community_id: int, photo_id: int) -> str:
    """A photo of a fix, shown on the community's public page: only of its closed cases."""
    rows = await sql("SELECT p.path FROM case_photo p JOIN case_file c ON c.id = p.\"case\" WHERE p.id = {} "
                     "AND c.community = {} AND c.state IN ({}, {})", photo_id, community_id, S.CLOSED,
                     S.RESOLVED_ON_SITE)
    if not rows:
        raise NotFound("photo")
    return rows[0]["path"]


async def photo_path(actor: Actor, case_id: int, photo_id: int, of_report: bool = False) -> str:
    """An after-photo of the case, or (`of_report`) a photo of its report — for staff and the unit, who must
    find the problem; 404 unless the actor may see the case."""
    case = await scope.case(actor, case_id)
    if of_report:
        scope.case_report_photo(actor)
        rows = await sql("SELECT path FROM photo WHERE id = {} AND submission = {}", photo_id, case["submission"])
    else:
        rows = await sql("SELECT path FROM case_photo WHERE id = {} AND \"case\" = {}", photo_id, case_id)
    if not rows:
        raise NotFound("photo")
    return rows[0]["path"]
