"""The case of a verified problem (交办 → 处置 → 复查 → 办结) and the one state machine it follows.

A report of an item the rules file marks `case = true` opens a case when it is awarded (not a duplicate:
the first report's case is the problem's). TRANSITIONS says, per action, the states a case may leave and
the state it reaches; `_move` is the one place a case changes state — a conditional UPDATE on the state
it was read in, with its timeline event and audit row in the same transaction. Who may act: staff of the
case's community dispatch (交办, with a deadline from the rules file's [cases.deadlines] and the working-day
calendar), resolve on the spot (就地解决) and recheck (复查: close, or reopen to the same unit with a new
deadline); handlers of the unit it went to accept it, return it as not theirs (回退, within the rules'
window) or dispose of it (处置: a note and at least one after-photo). The reporter reads its timeline.
Anyone else finds nothing (404) and changes nothing. Cases never move points. Beside it: extensions.py (延期),
rating.py (回访, and reopening a case rated unsatisfied), chasing.py (督办) and reading.py (views and lists).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from points import audit, clock, scope
from points.cases import outbox, units
from points.cases.reading import view
from points.errors import Conflict, DomainError, Invalid, checked, collected
from points.infra import photo_store
from points.infra.db import marks, rows_values, sql, write
from points.infra.photo_store import PhotoStore
from points.reports.intake import PhotoLimits, cleaned_photos
from points.scope import Actor
from points.vocabulary import CaseAction, CaseState
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
    inside the award's transaction, set-wise: one INSERT of the cases, one of their first events and one look
    for communities that forward everything, whatever the batch's size. Returns how many opened."""
    now = clock.now()
    wanted = [(r["id"], r["community"], item.priority) for r in reports
              if (item := rules.item(r["item_id"])) is not None and item.case]
    if not wanted:
        return 0
    values, args = rows_values([(sid, community, S.OPEN, priority, "", "", 0, now, now)
                                for sid, community, priority in wanted])
    opened = await sql("INSERT INTO case_file (submission, community, state, priority, deadline_assumed, note, "
                       f"reopened, created_at, updated_at) VALUES {values} "
                       "ON CONFLICT (submission) DO NOTHING RETURNING id, community", *args)
    if not opened:
        return 0
    values, args = rows_values([(o["id"], A.OPEN, S.OPEN, None, None, "", now) for o in opened])
    await sql(f"INSERT INTO case_event (\"case\", action, state, actor, unit, note, created_at) VALUES {values}",
              *args)
    await _auto_dispatch(rules, opened)
    return len(opened)


async def _auto_dispatch(rules: Rules, opened: list[dict[str, Any]]) -> None:
    """A community that forwards all its cases (points/cases/forwarding.py, `auto_dispatch`): each new case goes to
    the forwarded unit at once, dispatched by that unit's service account."""
    communities = sorted({o["community"] for o in opened})
    linked: dict[int, dict[str, Any]] = {}
    for f in await sql("SELECT uc.community, f.unit, f.member FROM forwarding f JOIN unit_community uc "
                       f"ON uc.unit = f.unit WHERE uc.community IN ({marks(communities)}) AND f.auto_dispatch = {{}} "
                       "AND f.disabled_at IS NULL ORDER BY f.id", *communities, True):
        linked.setdefault(f["community"], f)  # the first forwarding of a community, as ever
    for o in opened:
        if (f := linked.get(o["community"])) is not None:
            row = (await sql("SELECT * FROM case_file WHERE id = {}", o["id"]))[0]
            await send_to_unit(await units.service_actor(f["member"]), rules, row, A.DISPATCH, f["unit"], "")


# ------------------------------------------------------------------ the state machine


async def record_event(case_id: int, action: str, state: str, actor_id: int | None, unit_id: int | None, note: str,
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
    event = await record_event(row["id"], action, reaches, actor.id, changes.get("unit", row["unit"]), said, now)
    await outbox.record({**row, **sets}, action, event, actor.id if action in HANDLER_ACTIONS else None)
    await audit.record(actor.id, f"case.{action}", "case", row["id"], row["community"],
                       {"state": reaches, **({"note": said[:200]} if said else {}),
                        **({"unit": changes["unit"]} if "unit" in changes else {})})
    return event, now


def require(actor: Actor, action: str) -> None:
    if action in STAFF_ACTIONS:
        scope.require_staff(actor)
    if action in HANDLER_ACTIONS:
        scope.require_handler(actor)
    actor.require_active(action)


def checked_note(note: str, required: bool = True) -> str:
    note = (note or "").strip()
    if not required and not note:
        return ""
    return checked(fields.CASE_NOTE, "note", note)


async def dispatch(actor: Actor, rules: Rules, case_id: int, unit_id: int, note: str = "") -> dict[str, Any]:
    """交办: hand the case to a unit serving its community, with a deadline."""
    require(actor, A.DISPATCH)
    note = checked_note(note, required=False)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if not await units.serves(unit_id, row["community"]):
            raise Invalid("unknown_unit", "no unit with this id serves the case's community", field="unit")
        await send_to_unit(actor, rules, row, A.DISPATCH, unit_id, note)

    await write(run)
    return await view(actor, case_id)


async def send_to_unit(actor: Actor, rules: Rules, row: dict[str, Any], action: str, unit_id: int, said: str,
                       **changes: Any) -> int:
    """Hand the case to a unit with deadlines from now; returns the timeline event's id."""
    due, hard = deadlines(rules, row["priority"], clock.now())
    assumed = ",".join(str(y) for y in sorted(set(due.assumed) | set(hard.assumed)))
    event, _ = await _move(actor, row, action, said, unit=unit_id, deadline=due.at, hard_deadline=hard.at,
                           deadline_assumed=assumed, **changes)
    return event


async def accept(actor: Actor, case_id: int) -> dict[str, Any]:
    require(actor, A.ACCEPT)

    async def run() -> None:
        await _move(actor, await scope.case(actor, case_id), A.ACCEPT)

    await write(run)
    return await view(actor, case_id)


async def return_case(actor: Actor, rules: Rules, case_id: int, reason: str) -> dict[str, Any]:
    """回退: not this unit's to fix, within the rules' window after dispatch; staff dispatch it again."""
    require(actor, A.RETURN)
    reason = checked_note(reason)

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
    require(actor, action)
    if action == A.ACCEPT:
        await _move(actor, row, A.ACCEPT)
    elif action == A.RETURN:
        await _return(actor, rules, row, checked_note(note))
    elif action == A.DISPOSE:
        note = checked_note(note)
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
    require(actor, action)
    problems: list[DomainError] = []
    try:
        note = checked_note(note)
    except DomainError as exc:
        problems.append(exc)
    if not uploads:
        problems.append(Invalid("photos_required", "a photo of the fix is needed", field="photos", min=1))
    collected(problems + _too_many(uploads, limits))

    async def run(photos: list[tuple[Any, str]]) -> None:
        row = await scope.case(actor, case_id)
        changes = {"disposed_by": actor.id} if action == A.DISPOSE else {}
        event, _ = await _move(actor, row, action, note, note=note, **changes)
        await _keep_photos(case_id, event, photos)

    await _stored_with(uploads, limits, store, run)
    return await view(actor, case_id)


def _too_many(uploads: list[bytes], limits: PhotoLimits) -> list[DomainError]:
    if len(uploads) > limits.max_photos:
        return [Invalid("too_many_photos", f"at most {limits.max_photos} photos", field="photos",
                        max=limits.max_photos)]
    return []


async def _stored_with(uploads: list[bytes], limits: PhotoLimits | None, store: PhotoStore | None,
                       run: Callable[[list[tuple[Any, str]]], Awaitable[None]]) -> None:
    """Clean and store the photos (if any: then `limits` and `store` are given), then run the move that records
    them, in one transaction; a move refused leaves no stored file behind."""
    if not uploads:
        await write(lambda: run([]))
        return
    assert limits is not None and store is not None, "photos need their limits and a store"
    photos = await cleaned_photos(uploads, limits)
    names = await photo_store.save_all(store, photos)
    try:
        await write(lambda: run(list(zip(photos, names, strict=True))))
    except BaseException:
        await photo_store.discard(store, names)
        raise


async def _keep_photos(case_id: int, event: int, photos: list[tuple[Any, str]]) -> None:
    for photo, name in photos:
        await sql("INSERT INTO case_photo (\"case\", event, path, sha256, width, height, size, taken_at, exif_lat, "
                  "exif_lng) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})", case_id, event, name, photo.sha256,
                  photo.width, photo.height, len(photo.jpeg),
                  photo.taken_at.replace(tzinfo=UTC) if photo.taken_at else None, photo.lat, photo.lng)


async def recheck(actor: Actor, case_id: int) -> dict[str, Any]:
    """复查 begins: a staff member goes to see whether the fix holds."""
    require(actor, A.RECHECK)

    async def run() -> None:
        await _move(actor, await scope.case(actor, case_id), A.RECHECK)

    await write(run)
    return await view(actor, case_id)


async def conclude(actor: Actor, rules: Rules, case_id: int, fixed: bool, note: str,
                   uploads: list[bytes] | None = None, store: PhotoStore | None = None,
                   limits: PhotoLimits | None = None) -> dict[str, Any]:
    """The recheck's finding: 办结 when the fix holds; else reopened to the same unit, its deadline anew. The
    checker's own photos, when taken, go on the finding's timeline event."""
    require(actor, A.CLOSE if fixed else A.REOPEN)
    uploads = uploads or []
    problems: list[DomainError] = []
    try:
        note = checked_note(note, required=not fixed)
    except DomainError as exc:
        problems.append(exc)
    collected(problems + (_too_many(uploads, limits) if limits else []))

    async def run(photos: list[tuple[Any, str]]) -> None:
        row = await scope.case(actor, case_id)
        if fixed:
            event, _ = await _move(actor, row, A.CLOSE, note, note=note or row["note"])
        else:
            event = await send_to_unit(actor, rules, row, A.REOPEN, row["unit"], note, note=note,
                                       reopened=row["reopened"] + 1)
        await _keep_photos(case_id, event, photos)

    await _stored_with(uploads, limits, store, run)
    return await view(actor, case_id)
