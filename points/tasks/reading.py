"""Tasks as people read them: one task with the acting member's place on it, the open tasks near a member,
a member's own, staff's lists and a task's roster. Anyone outside the task's community finds nothing (404)."""

from __future__ import annotations

from typing import Any

from points import clock, scope
from points.areas import geo
from points.infra.db import marks, sql
from points.scope import Actor
from points.tasks.codes import pass_code
from points.vocabulary import (
    HOLDING_SLOT,
    REPORTER_ROLES,
    STAFF_ROLES,
    SignupState,
    TaskKind,
    TaskStatus,
)
from rules import Rules

TIMES = ("starts_at", "ends_at", "signup_closes_at", "created_at", "checked_in_at", "checked_out_at")


def timed(row: dict[str, Any]) -> dict[str, Any]:
    """A task or sign-up row with its times aware, whichever database it came from."""
    return {k: clock.aware(v) if k in TIMES and v is not None else v for k, v in row.items()}


async def task_for(actor: Actor, task_id: int, lock: bool = False) -> dict[str, Any]:
    """The task if the actor may see it (points/scope.py); else 404. `lock`: its row, until commit."""
    return timed(await scope.task(actor, task_id, lock))


async def taken_slots(task_ids: list[int]) -> dict[int, int]:
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


def by_the_hour(rules: Rules, task: dict[str, Any]) -> bool:
    """An activity whose item is counted in hours present (else one unit per member)."""
    item = rules.item(task["item_id"])
    return task["kind"] == TaskKind.ACTIVITY and item is not None and item.unit == "hour"


async def _views(rules: Rules, rows: list[dict[str, Any]], member_id: int | None = None,
                 near: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    taken, points, mine = await taken_slots(ids), await _checkpoints(ids), await _signups_of(member_id, ids) if member_id else {}
    out, now = [], clock.now()
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
            # confirming now would count those not yet checked out only to the planned end (staff's choice)
            "running_by_the_hour": r["starts_at"] <= now < r["ends_at"] and by_the_hour(rules, r),
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
