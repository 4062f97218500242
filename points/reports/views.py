"""Reports as people see them: the staff queue, one report, a member's own reports and their photos.

Coordinates are precise for staff of the report's community and rounded (about 100 m) for anyone else;
which earlier report a photo is like is for staff only. A page of reports reads its photos in one query.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from points import scope
from points.areas import geo
from points.areas import grids as grid_shapes
from points.errors import NotFound
from points.infra.db import marks, sql
from points.privacy import coarse
from points.reports.outcomes import outcome
from points.scope import Actor
from points.tables import Photo
from points.vocabulary import ENGINE_REPORT_KEYS, SubmissionStatus
from rules import Item, Rules

# A report list's rows with what each view shows beside the report: its grid (and, for a report placed by its grid
# alone, the grid's boundary) and its case — one statement for the list, whatever the reports hold.
REPORT_ROWS = ("SELECT s.*, g.code AS grid_code, CASE WHEN s.lat IS NULL THEN g.polygon END AS grid_polygon, "
               "c.id AS case_id, c.state AS case_state, c.rated_at AS case_rated_at FROM submission s "
               "LEFT JOIN grid g ON g.id = s.grid LEFT JOIN case_file c ON c.submission = s.id")


async def scoped_submission(actor: Actor, submission_id: int) -> dict[str, Any]:
    return await scope.one(actor, "submission s JOIN member m ON m.id = s.member", submission_id, "submission",
                           select="s.*, m.role AS member_role", prefix="s.")


async def queue(actor: Actor, rules: Rules, status: str = SubmissionStatus.SUBMITTED, limit: int = 50, offset: int = 0,
                category: str | None = None, grid: str | None = None,
                priority: str | None = None) -> list[dict[str, Any]]:
    """The staff queue: urgent (P1) items first, then oldest first; optionally one category, grid or priority."""
    clause, args = scope.clause(actor, "s.community")
    if category:
        ids = [i.id for i in rules.items if i.category == category] or [""]
        clause += f" AND s.item_id IN ({marks(ids)})"
        args += ids
    if grid:
        clause += " AND s.grid IN (SELECT g.id FROM grid g WHERE g.code = {} AND g.community = s.community)"
        args.append(grid)
    if priority:
        clause += " AND s.priority = {}"
        args.append(priority)
    rows = await sql(REPORT_ROWS + " WHERE s.status = {}" + clause +
                     " ORDER BY s.priority, s.id LIMIT {} OFFSET {}", status, *args, limit, offset)
    return await _views(rules, rows)


async def staff_view(actor: Actor, rules: Rules, submission_id: int) -> dict[str, Any]:
    return await _view(rules, await scoped_submission(actor, submission_id))


async def member_view(actor: Actor, rules: Rules, submission_id: int) -> dict[str, Any]:
    """A submission as its reporter, or staff of its community, may see it; 404 for anyone else."""
    if actor.is_staff:
        return await staff_view(actor, rules, submission_id)
    return await _view(rules, await scope.own(actor, "submission", submission_id), precise=False)


async def mine(actor: Actor, rules: Rules, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
    where, args = scope.mine(actor, "s.member")
    if before_id is not None:
        where, args = where + " AND s.id < {}", [*args, before_id]
    rows = await sql(REPORT_ROWS + " WHERE true" + where + " ORDER BY s.id DESC LIMIT {}", *args, limit)
    return await _views(rules, rows, precise=False)


async def usual_items(actor: Actor, limit: int = 100) -> Counter[str]:
    """The items of the member's own last `limit` reports, by how often — not those the engine filed for them
    (a task's confirmation, a referral's reward), which are no 随手拍 of theirs."""
    not_engine = " AND ".join("idempotency_key NOT LIKE {}" for _ in ENGINE_REPORT_KEYS)
    rows = await sql(f"SELECT item_id FROM submission WHERE member = {{}} AND (idempotency_key IS NULL OR "
                     f"({not_engine})) ORDER BY id DESC LIMIT {{}}", actor.id,
                     *(f"{prefix}%" for prefix in ENGINE_REPORT_KEYS), limit)
    return Counter(r["item_id"] for r in rows)


async def photo_path(actor: Actor, rules: Rules, submission_id: int, photo_id: int) -> str:
    await member_view(actor, rules, submission_id)  # 404 unless the actor may see the submission
    row = await Photo.select(Photo.path).where((Photo.id == photo_id) & (Photo.submission == submission_id)).first()
    if row is None:
        raise NotFound("photo")
    return row["path"]


async def _view(rules: Rules, row: dict[str, Any], precise: bool = True) -> dict[str, Any]:
    return (await _views(rules, [row], precise))[0]


async def _views(rules: Rules, rows: list[dict[str, Any]], precise: bool = True) -> list[dict[str, Any]]:
    """Submissions as JSON-ready data, their photos read in one query; coordinates rounded unless `precise`
    (staff of their community)."""
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    photos: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for p in await sql("SELECT id, submission, width, height, taken_at, exif_lat, exif_lng FROM photo "
                       f"WHERE submission IN ({marks(ids)}) ORDER BY id", *ids):
        photos[p.pop("submission")].append(p)
    if "case_state" not in rows[0]:  # a report read on its own: what REPORT_ROWS joins, looked up
        beside = {b["id"]: b for b in await sql(REPORT_ROWS.replace("SELECT s.*,", "SELECT s.id,")
                                                + f" WHERE s.id IN ({marks(ids)})", *ids)}
        rows = [{**row, **beside[row["id"]]} for row in rows]
    # A report placed by its grid alone: staff check its photos' GPS against the grid's boundary instead.
    shapes = {r["grid_code"]: r["grid_polygon"] for r in rows if r["grid_polygon"]} if precise else {}
    bounds = {code: grid_shapes.geometry_of(polygon) for code, polygon in shapes.items()}
    names: dict[int, str] = {}
    if precise:  # staff of the community see who reported
        member_ids = sorted({r["member"] for r in rows})
        names = {m["id"]: m["name"] for m in await sql(
            f"SELECT id, name FROM member WHERE id IN ({marks(member_ids)})", *member_ids)}
    return [{**_one_view(rules, row, photos[row["id"]], precise), "grid": row["grid_code"],
             "grid_geometry": bounds.get(row["grid_code"]) if row["lat"] is None else None,
             "case_id": row["case_id"], "case_state": row["case_state"], "case_rated": row["case_rated_at"] is not None,
             **({"reporter": names.get(row["member"], "")} if precise else {})} for row in rows]


def photo_checks(rules: Rules, view: dict[str, Any]) -> list[dict[str, Any]]:
    """For staff, beside each photo of a report: when it was taken (the camera's own clock, read as the
    scheme's local time), how far its GPS is from the claimed place — or, for a report placed by its grid
    alone, whether its GPS lies outside that grid's boundary — and whether either is beyond the scheme's photo
    checks (rules: [scheme.photo_checks])."""
    limits, found = rules.photo_checks, []
    submitted = view["submitted_at"]
    boundary = view.get("grid_geometry")
    for p in view["photos"]:
        taken = p["taken_at"].replace(tzinfo=rules.tz) if p["taken_at"] else None
        metres = (round(geo.distance_m(view["lat"], view["lng"], p["exif_lat"], p["exif_lng"]))
                  if None not in (view["lat"], view["lng"], p["exif_lat"], p["exif_lng"]) else None)
        outside = (boundary is not None and p["exif_lat"] is not None and p["exif_lng"] is not None
                   and not geo.contains(boundary, p["exif_lat"], p["exif_lng"]))
        found.append({"id": p["id"], "taken": taken, "distance_m": metres, "outside_grid": outside,
                      "far": outside or (metres is not None and metres > limits.distance_m),
                      "old": taken is not None and submitted - taken > timedelta(hours=limits.age_hours)})
    return found


def _one_view(rules: Rules, row: dict[str, Any], photo_rows: list[dict[str, Any]], precise: bool) -> dict[str, Any]:
    item = rules.item(row["item_id"])
    place = (lambda v: v) if precise else coarse
    photos = [{**p, "exif_lat": place(p["exif_lat"]), "exif_lng": place(p["exif_lng"])} for p in photo_rows]
    return {
        "id": row["id"],
        "member_id": row["member"],
        "community_id": row["community"],
        "status": row["status"],
        "item": _item_brief(item, row["item_id"]),
        "claimed_item_id": row["claimed_item_id"],
        "units": row["units"],
        "description": row["description"],
        "address": row["address"],
        "lat": place(row["lat"]),
        "lng": place(row["lng"]),
        "grid_id": row["grid"],
        "out_of_area": bool(row["out_of_area"]),  # in none of the community's grids
        "duplicate_of": row["duplicate_of"],
        # Which report an earlier photo is like is for the community's staff, not the reporter.
        "photo_like": row["photo_like"] if precise else None,
        "photo_distance": row["photo_distance"] if precise else None,
        "submitted_at": row["submitted_at"],
        "verified_at": row["verified_at"],
        "awarded_at": row["awarded_at"],
        "points": row["points"],
        "outcome": outcome(row),
        "rules_version": row["rules_version"],
        "award_rules_version": row["award_rules_version"] or None,
        "photos": photos,
    }


def _item_brief(item: Item | None, item_id: str) -> dict[str, Any] | None:
    if item is None:
        return {"id": item_id, "name_zh": item_id, "name_en": item_id, "points": 0, "category": "",
                "priority": "P3", "verification": "desk"}
    return {"id": item.id, "name_zh": item.name_zh, "name_en": item.name_en, "points": item.points,
            "category": item.category, "priority": item.priority, "verification": item.verification,
            "unit": item.unit or None}


def batchable(rules: Rules, view: dict[str, Any]) -> bool:
    """Whether staff may approve this report in a batch, unseen one by one: waiting, a desk-checked item
    worth at most the scheme's `[scheme.batch] max_points`, with its photos, and nothing flagged (an earlier
    report of it, a like photo, a place outside every grid of the community, a photo far from the place or
    taken long before)."""
    item = rules.item(view["item"]["id"])
    if item is None or view["status"] != SubmissionStatus.SUBMITTED or item.verification != "desk":
        return False
    if item.points * view["units"] > rules.batch.max_points or len(view["photos"]) < item.evidence.photos:
        return False
    if view["duplicate_of"] is not None or view["photo_like"] is not None or view["out_of_area"]:
        return False
    return not any(c["far"] or c["old"] for c in photo_checks(rules, view))
