"""Cases as people read them: one case with its timeline, as the actor may see it (points/scope.py decides
who), staff's and handlers' lists, the cases of a member's own reports, the public page's recently fixed
problems, and the photos of a case."""

from __future__ import annotations

from typing import Any

from points import clock, scope
from points.clock import aware
from points.errors import NotFound
from points.infra.db import marks, sql
from points.privacy import coarse
from points.scope import Actor
from points.vocabulary import CaseAction, CaseState, Role, finished_case_sql

S = CaseState

UNSATISFIED = 2  # a rating this low or lower puts the case in front of staff


async def view(actor: Actor, case_id: int) -> dict[str, Any]:
    """A case with its timeline, as the actor may see it (the reporter: states, times, units, photos)."""
    row = await scope.case(actor, case_id)
    return (await _views(actor, [row]))[0]


def latest_fix(case: dict[str, Any]) -> dict[str, Any] | None:
    """The step that last said the problem was fixed (处置 or 就地解决) — its note, unit, time and photos — which
    a recheck compares with the report; None before any."""
    fixes = [e for e in case["timeline"] or () if e["action"] in (CaseAction.DISPOSE, CaseAction.RESOLVE)]
    return fixes[-1] if fixes else None


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
    """Staff: their community's cases still in hand (or in `state`, by unit or grid), overdue and soonest deadline
    first; with `needs_look`, the escalated and the unsatisfied, closed or not. Handlers: their unit's cases still in
    its hands, soonest deadline first."""
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
        elif not state:  # the board: what is still in hand (closed ones by asking for them), off its own index
            where += " AND " + finished_case_sql(False)
        rows = await sql("SELECT * FROM case_file WHERE true" + where + " ORDER BY deadline NULLS LAST, id LIMIT {}",
                         *args, limit)
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
        "id": r["id"], "submission_id": r["submission"], "community_id": r["community"], "state": r["state"],
        "priority": r["priority"],
        "unit": {"id": r["unit"], "kind": names[r["unit"]]["kind"], "name": names[r["unit"]]["name"]}
        if r["unit"] else None,
        # the unit that sent it back: never offered first when staff dispatch it again
        "returned_by": r["unit"] if insiders and r["state"] == S.RETURNED else None,
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
                     f"WHERE c.community = {{}} AND c.{finished_case_sql()} ORDER BY c.updated_at DESC, c.id DESC "
                     "LIMIT {}", community_id, limit)
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
