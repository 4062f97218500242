"""Being there: checking in and out of a task, and a patrol's photo at each checkpoint.

Presence is proved by the site's rotating code — six digits from the task's secret and the time step
(RFC 4226's HOTP over steps of the rules' `code_seconds`, as TOTP does), shown as a QR code on a staff page
— so a photo of the code sent to a friend stops working within a step; or by the phone's place inside the
task's radius while the task runs. Each refusal says why: before the start (and when it opens), over,
outside the radius by N metres, the code expired, the code wrong. Check-in opens the rules' `early_minutes`
before the start; check-out and patrol photos are taken until `late_minutes` after the end. A patrol's photo
must have been taken (EXIF time, else when it arrived) in that window and where its checkpoint is (EXIF GPS,
else the phone's place); the last checkpoint photographed completes it. An item verified `auto` confirms
itself when every check has passed (points/tasks/attendance.py).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from points import audit, clock, scope
from points.areas import geo
from points.errors import Conflict, DomainError, Invalid, NotFound, checked
from points.infra import photo_store
from points.infra.db import sql, write
from points.infra.photo_store import PhotoStore
from points.reports.intake import PhotoLimits, cleaned_photos
from points.scope import Actor
from points.tasks import attendance
from points.tasks.codes import code_at, pass_code
from points.tasks.reading import task_for, timed
from points.vocabulary import PRESENT, CheckedInBy, SignupState, TaskKind, TaskStatus
from rules import Rules, fields

EXPIRED_STEPS = 20  # a code this many steps old is "expired" rather than "wrong", to say why it failed


def _step(rules: Rules, moment: datetime) -> int:
    return int(moment.timestamp() // rules.tasks.code_seconds)


async def current_code(actor: Actor, rules: Rules, task_id: int) -> dict[str, Any]:
    """Staff of the task's community: the code to show on site now, and how many seconds it has left."""
    scope.require_staff(actor)
    task = await task_for(actor, task_id)
    now = clock.now()
    step = _step(rules, now)
    left = (step + 1) * rules.tasks.code_seconds - now.timestamp()
    return {"task_id": task_id, "code": code_at(task["secret"], step), "seconds_left": max(1, int(left + 0.999)),
            "title": task["title"], "starts_at": task["starts_at"], "ends_at": task["ends_at"]}


def _code_problem(rules: Rules, task: dict[str, Any], code: str, now: datetime) -> DomainError | None:
    checked(fields.TASK_CODE, "code", code)
    step = _step(rules, now)
    # The step before is still good: the code may have turned while the member was scanning it.
    if any(hmac.compare_digest(code, code_at(task["secret"], s)) for s in (step, step - 1)):
        return None
    if any(hmac.compare_digest(code, code_at(task["secret"], s)) for s in range(step - EXPIRED_STEPS, step - 1)):
        return Invalid("code_expired", "this code has expired: scan the code on site again", field="code")
    return Invalid("wrong_task_code", "this is not the code of this task", field="code")


def _place_problem(task_or_point: dict[str, Any], radius_m: int, lat: float, lng: float,
                   field: str = "location") -> DomainError | None:
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return Invalid("invalid_location", "lat must be within ±90 and lng within ±180", field=field)
    away = geo.distance_m(lat, lng, task_or_point["lat"], task_or_point["lng"])
    if away > radius_m:
        return Invalid("too_far", f"you are {round(away - radius_m)} m outside the task's place", field=field,
                       metres=round(away - radius_m))
    return None


def _window_problem(rules: Rules, task: dict[str, Any], now: datetime, leaving: bool) -> DomainError | None:
    opens = task["starts_at"] - timedelta(minutes=rules.tasks.early_minutes)
    closes = task["ends_at"] + timedelta(minutes=rules.tasks.late_minutes) if leaving else task["ends_at"]
    if now < opens:
        return Conflict("too_early", "check-in has not opened yet", field="task",
                        opens=rules.local_time(opens).strftime("%m-%d %H:%M"))
    if now > closes:
        return Conflict("task_over", "this task is over", field="task")
    return None


async def _signup(actor: Actor, task_id: int) -> dict[str, Any]:
    rows = await sql("SELECT * FROM task_signup WHERE task = {} AND member = {}", task_id, actor.id)
    if not rows or rows[0]["state"] == SignupState.CANCELLED:
        raise Conflict("not_signed_up", "sign up for this task first", field="task")
    return timed(rows[0])


async def check(actor: Actor, rules: Rules, task_id: int, leaving: bool, code: str | None = None,
                lat: float | None = None, lng: float | None = None) -> dict[str, Any]:
    """Check in (or, `leaving`, out) of an activity by the site's code or by the phone's place."""
    actor.require_active("check in")

    async def run() -> bool:
        # No lock on the task: each member's sign-up row changes by a conditional update, so a crowd checking
        # in at the start does not queue on the task.
        task = await task_for(actor, task_id)
        if task["kind"] != TaskKind.ACTIVITY:
            raise Conflict("photos_instead", "a patrol is done by a photo at each checkpoint", field="task")
        if task["status"] != TaskStatus.PUBLISHED:
            raise Conflict("task_cancelled", "this task was cancelled", field="task")
        signup, now = await _signup(actor, task_id), clock.now()
        if code is None and (lat is None or lng is None):
            raise Invalid("code_or_location", "give the site's code, or your place (lat and lng)", field="code")
        problem = _window_problem(rules, task, now, leaving) or (
            _code_problem(rules, task, code, now) if code is not None else _place_problem(task, task["radius_m"], lat, lng))
        if problem:
            raise problem
        how = CheckedInBy.CODE if code is not None else CheckedInBy.LOCATION
        if not leaving:
            if signup["state"] in PRESENT:
                return False
            if signup["state"] != SignupState.SIGNED_UP:
                raise Conflict("wrong_state", f"your place on this task is {signup['state']}", field="task",
                               state=signup["state"])
            await sql("UPDATE task_signup SET state = {}, checked_in_at = {}, checked_in_by = {}, updated_at = {} "
                      "WHERE id = {} AND state = {}", SignupState.CHECKED_IN, now, how, now, signup["id"],
                      SignupState.SIGNED_UP)
            return False
        if signup["state"] == SignupState.CHECKED_OUT:
            return False
        if signup["state"] != SignupState.CHECKED_IN:
            raise Conflict("not_checked_in", "check in first", field="task", state=signup["state"])
        await sql("UPDATE task_signup SET state = {}, checked_out_at = {}, updated_at = {} WHERE id = {} AND state = {}",
                  SignupState.CHECKED_OUT, now, now, signup["id"], SignupState.CHECKED_IN)
        return await attendance.confirm_if_auto(rules, task, actor.id)

    awarded = await write(run)
    return {**await mine(actor, task_id), "confirmed": awarded}


async def attend(actor: Actor, rules: Rules, task_id: int, member_id: int | None = None,
                 code: str | None = None) -> dict[str, Any]:
    """Staff mark a member present whom they see on site — named, or by the pass code on the member's phone
    (报名码) — when the member cannot check in themselves: audited."""
    scope.require_staff(actor)
    if code is not None:
        checked(fields.TASK_CODE, "code", code)

    async def run() -> int:
        task = await task_for(actor, task_id, lock=True)
        now = clock.now()
        if problem := _window_problem(rules, task, now, leaving=False):
            raise problem
        member = member_id
        if code is not None:
            held = await sql("SELECT member FROM task_signup WHERE task = {} AND state = {}", task_id,
                             SignupState.SIGNED_UP)
            member = next((h["member"] for h in held if hmac.compare_digest(pass_code(task["secret"], h["member"]),
                                                                            code)), None)
            if member is None:
                raise Invalid("wrong_pass_code", "no one waiting to check in holds this pass code", field="code")
        done = await sql("UPDATE task_signup SET state = {}, checked_in_at = {}, checked_in_by = {}, updated_at = {} "
                         "WHERE task = {} AND member = {} AND state = {} RETURNING id", SignupState.CHECKED_IN, now,
                         CheckedInBy.STAFF, now, task_id, member, SignupState.SIGNED_UP)
        if not done:
            raise Conflict("not_signed_up", "that member holds no place waiting to check in", field="member")
        await audit.record(actor.id, "task.attend", "task", task_id, task["community"],
                           {"member": member, "by": "pass_code" if code is not None else "name"})
        return member

    member = await write(run)
    return {"task_id": task_id, "member_id": member, "state": SignupState.CHECKED_IN}


async def checkpoint_photo(actor: Actor, rules: Rules, task_id: int, checkpoint_id: int, upload: bytes,
                           lat: float | None, lng: float | None, store: PhotoStore,
                           limits: PhotoLimits) -> dict[str, Any]:
    """A patrol's (or recheck's) photo at one checkpoint: taken there, during the task."""
    actor.require_active("take part in tasks")
    task = await task_for(actor, task_id)
    if task["kind"] == TaskKind.ACTIVITY:
        raise Conflict("code_instead", "an activity is checked in by the site's code or your place", field="task")
    points = await sql("SELECT * FROM task_checkpoint WHERE id = {} AND task = {}", checkpoint_id, task_id)
    if not points:
        raise NotFound("checkpoint")
    point, now = points[0], clock.now()
    signup = await _signup(actor, task_id)
    if signup["state"] not in (SignupState.SIGNED_UP, SignupState.CHECKED_IN):
        raise Conflict("wrong_state", f"your place on this task is {signup['state']}", field="task",
                       state=signup["state"])
    if problem := _window_problem(rules, task, now, leaving=True):
        raise problem
    if not upload:
        raise Invalid("photos_required", "a photo of the checkpoint is needed", field="photo", min=1)
    photo = (await cleaned_photos([upload], limits))[0]
    # EXIF time has no zone: it is the phone's local time, read in the scheme's.
    taken = photo.taken_at.replace(tzinfo=rules.tz).astimezone(UTC) if photo.taken_at else now
    opens = task["starts_at"] - timedelta(minutes=rules.tasks.early_minutes)
    if not opens <= taken <= task["ends_at"] + timedelta(minutes=rules.tasks.late_minutes):
        raise Invalid("photo_outside_window", "the photo was not taken during the task", field="photo",
                      taken=rules.local_time(taken).strftime("%m-%d %H:%M"))
    where = (photo.lat, photo.lng) if photo.lat is not None else (lat, lng)
    if where[0] is None or where[1] is None:
        raise Invalid("location_required", "the photo has no place: allow the location and try again", field="location")
    if problem := _place_problem(point, task["radius_m"], where[0], where[1], "photo"):
        raise problem
    [name] = await photo_store.save_all(store, [photo])

    async def run() -> bool:
        await task_for(actor, task_id, lock=True)
        current = await _signup(actor, task_id)
        await sql("INSERT INTO task_photo (key, signup, checkpoint, path, sha256, width, height, size, taken_at, lat, lng, "
                  "created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT (key) DO NOTHING",
                  f"{current['id']}:{checkpoint_id}", current["id"], checkpoint_id, name, photo.sha256, photo.width,
                  photo.height, len(photo.jpeg), taken, where[0], where[1], now)
        if current["state"] == SignupState.SIGNED_UP:
            await sql("UPDATE task_signup SET state = {}, checked_in_at = {}, checked_in_by = {}, updated_at = {} "
                      "WHERE id = {} AND state = {}", SignupState.CHECKED_IN, now, CheckedInBy.PHOTO, now,
                      current["id"], SignupState.SIGNED_UP)
        left = await sql("SELECT COUNT(*) AS n FROM task_checkpoint c WHERE c.task = {} AND NOT EXISTS "
                         "(SELECT 1 FROM task_photo p WHERE p.signup = {} AND p.checkpoint = c.id)",
                         task_id, current["id"])
        if left[0]["n"]:
            return False
        await sql("UPDATE task_signup SET state = {}, checked_out_at = {}, updated_at = {} WHERE id = {} AND state = {}",
                  SignupState.CHECKED_OUT, now, now, current["id"], SignupState.CHECKED_IN)
        return await attendance.confirm_if_auto(rules, task, actor.id)

    try:
        awarded = await write(run)
    except BaseException:
        await photo_store.discard(store, [name])
        raise
    return {**await mine(actor, task_id), "confirmed": awarded}


async def mine(actor: Actor, task_id: int) -> dict[str, Any]:
    signup = await _signup(actor, task_id)
    done = await sql("SELECT checkpoint FROM task_photo WHERE signup = {} ORDER BY id", signup["id"])
    return {"task_id": task_id, "state": signup["state"], "checked_in_at": signup["checked_in_at"],
            "checked_in_by": signup["checked_in_by"], "checked_out_at": signup["checked_out_at"],
            "checkpoints_done": [r["checkpoint"] for r in done]}


async def photo_path(actor: Actor, task_id: int, photo_id: int) -> str:
    """A checkpoint photo's file, for staff of the task's community and the member who took it; else 404."""
    await task_for(actor, task_id)
    rows = await sql("SELECT p.path, s.member FROM task_photo p JOIN task_signup s ON s.id = p.signup "
                     "WHERE p.id = {} AND s.task = {}", photo_id, task_id)
    if not rows:
        raise NotFound("photo")
    scope.task_photo(actor, rows[0]["member"])
    return rows[0]["path"]
