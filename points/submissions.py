"""Reports: a member submits one against a scoring item; staff verify or reject it.

States: submitted → verified → awarded (points written by points/awards.py)
→ reversed (a clawback, points/reversals.py), or submitted → rejected. An award
over the four-eyes threshold passes submitted → awaiting_second → verified.
An auto-accept item starts out verified. Staff see
and act on submissions only within their own community: every staff query
goes through `points.scope`, and anything outside it answers 404 with no effect.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from points import audit, clock, geo, idempotency, scope
from points.db import marks, sql, write
from points.errors import Conflict, Forbidden, Invalid, NotFound, checked
from points.outcomes import REJECT_REASONS, outcome
from points.photos import CleanPhoto, PhotoStore, clean_off_loop, distance
from points.privacy import coarse
from points.scope import Actor
from points.tables import Grid, Photo, Submission
from rules import Item, Rules, fields

OPEN_STATUSES = ("submitted", "awaiting_second", "verified", "awarded")
MAX_DESCRIPTION = fields.DESCRIPTION.max_length
LIKE_PHOTO_DAYS = 90  # how far back a new photo is compared with the community's photos
LIKE_PHOTO_BITS = 12  # dHash bits: up to about 6 the same picture re-saved, up to 12 a like one
SAME_PICTURE_BITS = 6


@dataclass(frozen=True)
class Report:
    item: str
    description: str = ""
    lat: float | None = None
    lng: float | None = None
    grid: str | None = None
    address: str = ""
    units: int = 1


@dataclass(frozen=True)
class PhotoLimits:
    max_photos: int
    max_bytes: int
    max_pixels: int


def _require_member_item(rules: Rules, actor: Actor, item_id: str, field: str = "item") -> Item:
    item = rules.item(checked(fields.ITEM_ID, field, item_id))
    if item is None or not item.reportable:
        raise Invalid("unknown_item", f"{item_id!r} is not an item members can report", field=field)
    if actor.role not in item.roles:
        raise Forbidden("role_not_eligible", f"{item_id} is for {' and '.join(item.roles)} members only",
                        field=field)
    return item


def _check_evidence(item: Item, report: Report, photo_count: int, limits: PhotoLimits) -> None:
    if not 1 <= report.units <= item.max_units:
        raise Invalid("invalid_units", f"units must be between 1 and {item.max_units} for {item.id}", field="units")
    if (report.lat is None) != (report.lng is None):
        raise Invalid("invalid_location", "give both lat and lng, or neither", field="lat" if report.lat is None
                      else "lng")
    if report.lat is not None and not (-90 <= report.lat <= 90 and -180 <= report.lng <= 180):
        raise Invalid("invalid_location", "lat must be within ±90 and lng within ±180", field="lat")
    if item.evidence.location and report.lat is None and not report.grid:
        raise Invalid("location_required", f"{item.id} needs a location: lat and lng, or a grid", field="location")
    if item.evidence.description and not report.description.strip():
        raise Invalid("description_required", f"{item.id} needs a description", field="description")
    if len(report.description) > MAX_DESCRIPTION:
        raise Invalid("description_too_long", f"description is longer than {MAX_DESCRIPTION} characters",
                      field="description")
    checked(fields.DESCRIPTION, "description", report.description)
    checked(fields.ADDRESS, "address", report.address.strip())
    if report.grid is not None:
        checked(fields.GRID, "grid", report.grid)
    if photo_count < item.evidence.photos:
        raise Invalid("photos_required", f"{item.id} needs at least {item.evidence.photos} photo(s), "
                      f"got {photo_count}", field="photos")
    if photo_count > limits.max_photos:
        raise Invalid("too_many_photos", f"at most {limits.max_photos} photos per report", field="photos")


async def grids(community_id: int) -> list[dict[str, Any]]:
    """A community's grids, to pick from when the phone gives no location."""
    return await sql("SELECT code, name FROM grid WHERE community = {} ORDER BY code", community_id)


async def _resolve_grid(community_id: int, report: Report) -> int | None:
    grids = await Grid.select(Grid.id, Grid.code, Grid.polygon).where(Grid.community == community_id)
    if report.grid:
        for g in grids:
            if g["code"] == report.grid:
                return g["id"]
        raise Invalid("unknown_grid", f"no grid {report.grid!r} in your community", field="grid")
    if report.lat is not None:
        for g in grids:
            polygon = json.loads(g["polygon"]) if isinstance(g["polygon"], str) else g["polygon"]
            if polygon and geo.contains(polygon, report.lat, report.lng):
                return g["id"]
    return None


async def sweep_orphan_photos(store: PhotoStore, grace_seconds: int = 3600) -> int:
    """Delete photo files no report refers to: saved just before a process died, its report never
    committed. Files younger than the grace period may still be on their way in; return how many went."""
    names = store.recent_files(time.time() - grace_seconds)
    known: set[str] = set()
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        known.update(r["path"] for r in await sql(
            f"SELECT path FROM photo WHERE path IN ({marks(chunk)})", *chunk))
    orphans = [n for n in names if n not in known]
    store.discard(orphans)
    return len(orphans)


def _request_hash(report: Report, photos: list[CleanPhoto]) -> str:
    body = json.dumps([asdict(report), [p.sha256 for p in photos]], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


async def submit(actor: Actor, rules: Rules, report: Report, uploads: list[bytes], store: PhotoStore,
                 limits: PhotoLimits, idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Record a report; returns (the submission, whether it was created now)."""
    actor.require_active("report")
    item = _require_member_item(rules, actor, report.item)
    _check_evidence(item, report, len(uploads), limits)
    stored_key = idempotency.stored(actor.id, idempotency.Operation.REPORT, idempotency_key)

    photos = [await clean_off_loop(data, f"photos[{i}]", limits.max_bytes, limits.max_pixels)
              for i, data in enumerate(uploads)]
    request_hash = _request_hash(report, photos)
    if stored_key and (earlier := await _replay(actor, rules, stored_key, request_hash)):
        return earlier, False
    grid_id = await _resolve_grid(actor.community_id, report)
    names = [store.save(p) for p in photos]

    async def insert() -> int | None:
        now = clock.now()
        like = await photo_like(actor.community_id, [p.dhash for p in photos], now)
        # A picture sent before is never accepted unseen: staff look at it even for an auto-accepted item.
        auto = item.verification == "auto" and not (like and like[1] <= SAME_PICTURE_BITS)
        rows = await Submission.insert(Submission(
            member=actor.id, community=actor.community_id, grid=grid_id, item_id=item.id, claimed_item_id=item.id,
            units=report.units, priority=item.priority, description=report.description.strip(), address=report.address.strip()[:200],
            lat=report.lat, lng=report.lng, local_day=now.astimezone(rules.tz).date(), submitted_at=now,
            status="verified" if auto else "submitted", verified_at=now if auto else None,
            rules_version=rules.version, idempotency_key=stored_key, request_hash=request_hash,
            photo_like=like[0] if like else None, photo_distance=like[1] if like else None,
        )).on_conflict(target=Submission.idempotency_key, action="DO NOTHING").returning(Submission.id)
        if not rows:
            return None
        sid = rows[0]["id"]
        for photo, name in zip(photos, names, strict=True):
            await Photo.insert(Photo(submission=sid, path=name, sha256=photo.sha256, dhash=photo.dhash, width=photo.width,
                                     height=photo.height, size=len(photo.jpeg), taken_at=_utc(photo.taken_at),
                                     exif_lat=photo.lat, exif_lng=photo.lng))
        first = await earlier_reports(rules, [sid])
        if sid in first:
            await Submission.update({Submission.duplicate_of: first[sid]}).where(Submission.id == sid)
        return sid

    try:
        sid = await write(insert)
    except BaseException:
        store.discard(names)
        raise
    if sid is None:  # the same key won a race with us: theirs stands
        store.discard(names)
        earlier = await _replay(actor, rules, stored_key, request_hash)
        assert earlier is not None
        return earlier, False
    return await member_view(actor, rules, sid), True


def _utc(taken_at: datetime | None) -> datetime | None:
    # EXIF time has no zone; it is kept as it reads, marked UTC, and shown as such.
    return taken_at.replace(tzinfo=UTC) if taken_at else None


async def _replay(actor: Actor, rules: Rules, stored_key: str, request_hash: str) -> dict[str, Any] | None:
    row = await Submission.select(Submission.id, Submission.request_hash).where(
        Submission.idempotency_key == stored_key).first()
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise idempotency.reused("a different report")
    return await member_view(actor, rules, row["id"])


async def photo_like(community_id: int, hashes: list[str], now: datetime) -> tuple[int, int] | None:
    """The community's report of the last LIKE_PHOTO_DAYS whose photo is most like one of these (the
    earliest of equals), and by how many bits they differ; None unless some pair is within LIKE_PHOTO_BITS.
    A photo sent again — the same picture for a second reward — is how 随手拍 schemes are gamed."""
    if not hashes:
        return None
    rows = await sql("SELECT p.submission, p.dhash FROM photo p JOIN submission s ON s.id = p.submission "
                     "WHERE s.community = {} AND s.submitted_at > {} AND p.dhash <> ''",
                     community_id, now - timedelta(days=LIKE_PHOTO_DAYS))
    best = min(((distance(h, r["dhash"]), r["submission"]) for r in rows for h in hashes), default=None)
    return (best[1], best[0]) if best and best[0] <= LIKE_PHOTO_BITS else None


async def earlier_reports(rules: Rules, ids: list[int]) -> dict[int, int]:
    """For each submission in `ids`, the first earlier open report of the same item nearby (首报), if any."""
    if not ids:
        return {}
    window = timedelta(hours=rules.duplicates.window_hours)
    dlat, dlng = geo.degree_box(60.0, rules.duplicates.distance_m)  # a box wide enough up to 60° latitude
    statuses = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    rows = await sql(
        "SELECT s.id AS sid, s.lat AS slat, s.lng AS slng, s.submitted_at AS st, "
        "d.id AS did, d.lat AS dlat, d.lng AS dlng, d.submitted_at AS dt "
        "FROM submission s JOIN submission d ON d.item_id = s.item_id AND d.community = s.community "
        f"AND d.id < s.id AND d.status IN ({statuses}) "
        "AND d.lat BETWEEN s.lat - {} AND s.lat + {} AND d.lng BETWEEN s.lng - {} AND s.lng + {} "
        f"WHERE s.lat IS NOT NULL AND s.id IN ({marks(ids)})",
        dlat, dlat, dlng, dlng, *ids)
    first: dict[int, int] = {}
    for r in rows:
        if abs(r["st"] - r["dt"]) > window:
            continue
        if geo.distance_m(r["slat"], r["slng"], r["dlat"], r["dlng"]) > rules.duplicates.distance_m:
            continue
        if r["sid"] not in first or r["did"] < first[r["sid"]]:
            first[r["sid"]] = r["did"]
    return first


# ------------------------------------------------------------------ staff side

async def _scoped_submission(actor: Actor, submission_id: int) -> dict[str, Any]:
    return await scope.one(actor, "submission s JOIN member m ON m.id = s.member", submission_id, "submission",
                           select="s.*, m.role AS member_role", prefix="s.")


async def verify(actor: Actor, rules: Rules, submission_id: int, item_id: str | None = None,
                 note: str = "") -> None:
    """Approve a report, optionally re-classifying it to another item.

    An award worth more than the rules file's `second_approval_over` needs a second approval by a
    different staff member (four-eyes): the first leaves it awaiting_second, and no points move before
    the second. Nobody approves their own report, nor the same report twice.
    """

    async def run() -> None:
        row = await _scoped_submission(actor, submission_id)
        scope.not_own_report(actor, row)
        if row["status"] not in ("submitted", "awaiting_second"):
            raise Conflict("already_decided", f"this report is already {row['status']}")
        now = clock.now()
        if row["status"] == "awaiting_second":
            if item_id and item_id != row["item_id"]:
                raise Conflict("already_classified", f"the first approver chose {row['item_id']}: approve it as "
                               "that item or reject it", field="item")
            if not await _approve(submission_id, actor.id, now):
                raise Conflict("second_approver_needed", "a different staff member must give the second approval")
            await _move(submission_id, "awaiting_second", "verified", row["item_id"], row["priority"], actor, note,
                        now)
            await audit.record(actor.id, "submission.verify", "submission", submission_id, row["community"],
                               {"note": note.strip()[:200], "approval": 2})
            return
        new_item, priority = row["item_id"], row["priority"]
        if item_id and item_id != row["item_id"]:
            member = Actor(row["member"], row["member_role"], row["community"], "", "active")
            chosen = _require_member_item(rules, member, item_id)
            new_item, priority = chosen.id, chosen.priority
        item = rules.item(new_item)
        worth = (item.points if item else 0) * row["units"]
        two = rules.second_approval_over is not None and worth > rules.second_approval_over
        await _approve(submission_id, actor.id, now)
        await _move(submission_id, "submitted", "awaiting_second" if two else "verified", new_item, priority, actor,
                    note, now)
        details: dict[str, Any] = {"note": note.strip()[:200], "approval": 1}
        if two:
            details["awaiting_second"] = True
        if new_item != row["item_id"]:
            details.update({"from_item": row["item_id"], "to_item": new_item})
        await audit.record(actor.id, "submission.reclassify" if new_item != row["item_id"] else "submission.verify",
                           "submission", submission_id, row["community"], details)

    await write(run)


async def _approve(submission_id: int, approver: int, now: datetime) -> bool:
    """Record one staff member's approval; False if they gave it already."""
    return bool(await sql("INSERT INTO approval (key, submission, approver, created_at) VALUES ({}, {}, {}, {}) "
                          "ON CONFLICT (key) DO NOTHING RETURNING id", f"{submission_id}:{approver}", submission_id,
                          approver, now))


async def _move(submission_id: int, from_status: str, to_status: str, item_id: str, priority: str, actor: Actor,
                note: str, now: datetime) -> None:
    done = await sql("UPDATE submission SET status = {}, item_id = {}, priority = {}, verified_by = {}, "
                     "verified_at = {}, verify_note = {} WHERE id = {} AND status = {} RETURNING id",
                     to_status, item_id, priority, actor.id, now, note.strip()[:1000], submission_id, from_status)
    if not done:
        raise Conflict("already_decided", "this report was decided by someone else just now")


async def reject(actor: Actor, submission_id: int, reason: str, note: str = "") -> None:
    if reason not in REJECT_REASONS:
        raise Invalid("invalid_reason", f"reason must be one of {', '.join(REJECT_REASONS)}", field="reason")

    async def run() -> None:
        row = await _scoped_submission(actor, submission_id)
        scope.not_own_report(actor, row)
        done = await sql("UPDATE submission SET status = 'rejected', reject_reason = {}, verify_note = {}, "
                         "verified_by = {}, verified_at = {} WHERE id = {} "
                         "AND status IN ('submitted', 'awaiting_second') RETURNING id",
                         reason, note.strip()[:1000], actor.id, clock.now(), submission_id)
        if not done:
            raise Conflict("already_decided", f"this report is already {row['status']}")
        await audit.record(actor.id, "submission.reject", "submission", submission_id, row["community"],
                           {"reason": reason, "note": note.strip()[:200]})

    await write(run)


async def queue(actor: Actor, rules: Rules, status: str = "submitted", limit: int = 50, offset: int = 0,
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
    rows = await sql("SELECT s.* FROM submission s WHERE s.status = {}" + clause +
                     " ORDER BY s.priority, s.id LIMIT {} OFFSET {}", status, *args, limit, offset)
    return await _views(rules, rows)


async def staff_view(actor: Actor, rules: Rules, submission_id: int) -> dict[str, Any]:
    return await _view(rules, await _scoped_submission(actor, submission_id))


# ----------------------------------------------------------------- member side

async def member_view(actor: Actor, rules: Rules, submission_id: int) -> dict[str, Any]:
    """A submission as its reporter, or staff of its community, may see it; 404 for anyone else."""
    if actor.is_staff:
        return await staff_view(actor, rules, submission_id)
    rows = await sql("SELECT s.* FROM submission s WHERE s.id = {} AND s.member = {}", submission_id, actor.id)
    if not rows:
        raise NotFound("submission")
    return await _view(rules, rows[0], precise=False)


async def mine(actor: Actor, rules: Rules, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
    before, args = ("", []) if before_id is None else (" AND s.id < {}", [before_id])
    rows = await sql("SELECT s.* FROM submission s WHERE s.member = {}" + before + " ORDER BY s.id DESC LIMIT {}",
                     actor.id, *args, limit)
    return await _views(rules, rows, precise=False)


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
    return [_one_view(rules, row, photos[row["id"]], precise) for row in rows]


def _one_view(rules: Rules, row: dict[str, Any], photo_rows: list[dict[str, Any]], precise: bool) -> dict[str, Any]:
    item = rules.item(row["item_id"])
    place = (lambda v: v) if precise else coarse
    photos = [{**p, "exif_lat": place(p["exif_lat"]), "exif_lng": place(p["exif_lng"])} for p in photo_rows]
    return {
        "id": row["id"],
        "member_id": row["member"],
        "status": row["status"],
        "item": _item_brief(item, row["item_id"]),
        "claimed_item_id": row["claimed_item_id"],
        "units": row["units"],
        "description": row["description"],
        "address": row["address"],
        "lat": place(row["lat"]),
        "lng": place(row["lng"]),
        "grid_id": row["grid"],
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
