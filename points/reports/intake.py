"""Taking a report in (随手拍): a member reports a problem against a scoring item of the rules file.

The report must meet its item's evidence rules (photos, location, description) and be for the member's
role; photos are checked, cleaned and hashed (points/infra/photos.py); the same `Idempotency-Key` returns the
first report. A report starts `submitted`, or `verified` for an auto-accepted item (unless its photo is a
picture sent before). A report of the same item close by and recent is flagged as a duplicate of the
first (首报), one whose photo is like an earlier one as `photo_like`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from points import clock, idempotency
from points.areas import geo, grids
from points.errors import DomainError, Forbidden, Invalid, checked, collected
from points.infra import photo_store
from points.infra.db import marks, sql, write
from points.infra.photo_store import PhotoStore
from points.infra.photos import CleanPhoto, clean_off_loop, distance
from points.reports.views import member_view
from points.scope import Actor
from points.tables import Photo, Submission
from points.vocabulary import SubmissionStatus
from rules import Item, Rules, fields

OPEN_STATUSES = (SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND, SubmissionStatus.VERIFIED,
                 SubmissionStatus.AWARDED)
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


def require_member_item(rules: Rules, actor: Actor, item_id: str, field: str = "item") -> Item:
    item = rules.item(checked(fields.ITEM_ID, field, item_id))
    if item is None or not item.reportable:
        raise Invalid("unknown_item", f"{item_id!r} is not an item members can report", field=field)
    if actor.role not in item.roles:
        raise Forbidden("role_not_eligible", f"{item_id} is for {' and '.join(item.roles)} members only",
                        field=field)
    return item


def _evidence_problems(item: Item, report: Report, photo_count: int, limits: PhotoLimits) -> list[DomainError]:
    """Everything wrong with a report's evidence, not only the first thing: a form marks every field."""
    found: list[DomainError] = []

    def check(spec: Any, field: str, value: Any) -> None:
        try:
            checked(spec, field, value)
        except Invalid as exc:
            found.append(exc)

    if not 1 <= report.units <= item.max_units:
        found.append(Invalid("invalid_units", f"units must be between 1 and {item.max_units} for {item.id}",
                             field="units", max=item.max_units))
    if (report.lat is None) != (report.lng is None):
        found.append(Invalid("invalid_location", "give both lat and lng, or neither",
                             field="lat" if report.lat is None else "lng"))
    elif report.lat is not None and not (-90 <= report.lat <= 90 and -180 <= report.lng <= 180):
        found.append(Invalid("invalid_location", "lat must be within ±90 and lng within ±180", field="lat"))
    elif item.evidence.location and report.lat is None and not report.grid:
        found.append(Invalid("location_required", f"{item.id} needs a location: lat and lng, or a grid",
                             field="location"))
    if item.evidence.description and not report.description.strip():
        found.append(Invalid("description_required", f"{item.id} needs a description", field="description"))
    elif len(report.description) > MAX_DESCRIPTION:
        found.append(Invalid("description_too_long", f"description is longer than {MAX_DESCRIPTION} characters",
                             field="description", max=MAX_DESCRIPTION))
    else:
        check(fields.DESCRIPTION, "description", report.description)
    check(fields.ADDRESS, "address", report.address.strip())
    if report.grid is not None:
        check(fields.GRID, "grid", report.grid)
    if photo_count < item.evidence.photos:
        found.append(Invalid("photos_required", f"{item.id} needs at least {item.evidence.photos} photo(s), "
                             f"got {photo_count}", field="photos", min=item.evidence.photos))
    elif photo_count > limits.max_photos:
        found.append(Invalid("too_many_photos", f"at most {limits.max_photos} photos per report", field="photos",
                             max=limits.max_photos))
    return found


async def cleaned_photos(uploads: list[bytes], limits: PhotoLimits) -> list[CleanPhoto]:
    """Every photo checked and cleaned; every bad one named (photos[0], photos[2], …) in one refusal."""
    photos, found = [], []
    for i, data in enumerate(uploads):
        try:
            photos.append(await clean_off_loop(data, f"photos[{i}]", limits.max_bytes, limits.max_pixels))
        except DomainError as exc:
            found.append(exc)
    collected(found)
    return photos


PHOTO_TABLES = ("photo", "case_photo", "task_photo")  # every table that keeps a photo file's path


async def sweep_orphan_photos(store: PhotoStore, grace_seconds: int = 3600) -> int:
    """Delete photo files no report, case or task refers to: saved just before a process died, its report never
    committed. Files younger than the grace period may still be on their way in; return how many went."""
    names = await asyncio.to_thread(store.recent_files, time.time() - grace_seconds)
    originals = sorted({photo_store.original_name(n) for n in names})  # a sized copy lives as long as its photo
    known: set[str] = set()
    for start in range(0, len(originals), 500):
        chunk = originals[start:start + 500]
        for table in PHOTO_TABLES:
            known.update(r["path"] for r in await sql(
                f"SELECT path FROM {table} WHERE path IN ({marks(chunk)})", *chunk))
    orphans = [n for n in names if photo_store.original_name(n) not in known]
    await photo_store.discard(store, orphans)
    return len(orphans)


def _request_hash(report: Report, photos: list[CleanPhoto]) -> str:
    body = json.dumps([asdict(report), [p.sha256 for p in photos]], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


async def submit(actor: Actor, rules: Rules, report: Report, uploads: list[bytes], store: PhotoStore,
                 limits: PhotoLimits, idempotency_key: str | None = None,
                 resent_within: timedelta | None = None) -> tuple[dict[str, Any], bool]:
    """Record a report; returns (the submission, whether it was created now). `resent_within`: the same report
    (the same item, place, words and photos) from the same member this recently is the one sent before,
    whatever its key — a page's form re-rendered by going back carries a new key (see RESENT_WITHIN)."""
    actor.require_active("report")
    item = require_member_item(rules, actor, report.item)
    collected(_evidence_problems(item, report, len(uploads), limits))
    stored_key = idempotency.stored(actor.id, idempotency.Operation.REPORT, idempotency_key)

    photos = await cleaned_photos(uploads, limits)
    request_hash = _request_hash(report, photos)
    if stored_key and (earlier := await _replay(actor, rules, stored_key, request_hash)):
        return earlier, False
    if resent_within and (earlier := await _resent(actor, rules, request_hash, resent_within)):
        return earlier, False
    grid_id, out_of_area = await grids.resolve(actor.community_id, report.grid, report.lat, report.lng)
    names = await photo_store.save_all(store, photos)

    async def insert() -> int | None:
        now = clock.now()
        like = await photo_like(actor.community_id, [p.dhash for p in photos], now)
        # A picture sent before is never accepted unseen: staff look at it even for an auto-accepted item.
        auto = item.verification == "auto" and not (like and like[1] <= SAME_PICTURE_BITS)
        rows = await Submission.insert(Submission(
            member=actor.id, community=actor.community_id, grid=grid_id, item_id=item.id, claimed_item_id=item.id,
            units=report.units, priority=item.priority, description=report.description.strip(), address=report.address.strip()[:200],
            lat=report.lat, lng=report.lng, local_day=rules.local_date(now), submitted_at=now,
            status=SubmissionStatus.VERIFIED if auto else SubmissionStatus.SUBMITTED, verified_at=now if auto else None,
            rules_version=rules.version, idempotency_key=stored_key, request_hash=request_hash,
            photo_like=like[0] if like else None, photo_distance=like[1] if like else None, out_of_area=out_of_area,
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
            await Submission.update({Submission.duplicate_of: first[sid].id}).where(Submission.id == sid)
        return sid

    try:
        sid = await write(insert)
    except BaseException:
        await photo_store.discard(store, names)
        raise
    if sid is None:  # the same key won a race with us: theirs stands
        await photo_store.discard(store, names)
        earlier = await _replay(actor, rules, stored_key, request_hash)
        assert earlier is not None
        return earlier, False
    return await member_view(actor, rules, sid), True


def _utc(taken_at: datetime | None) -> datetime | None:
    # EXIF time has no zone; it is kept as it reads, marked UTC, and shown as such.
    return taken_at.replace(tzinfo=UTC) if taken_at else None


async def _replay(actor: Actor, rules: Rules, stored_key: str, request_hash: str) -> dict[str, Any] | None:
    sid = await idempotency.earlier("submission", stored_key, "request_hash", request_hash, "a different report")
    return None if sid is None else await member_view(actor, rules, sid)


# A page's form without JavaScript: going back re-renders it with a fresh key, and the member sends the same
# report again. Content sent again this soon is the report already made.
RESENT_WITHIN = timedelta(minutes=30)


async def _resent(actor: Actor, rules: Rules, request_hash: str, within: timedelta) -> dict[str, Any] | None:
    now = clock.now()
    rows = await sql("SELECT id FROM submission WHERE member = {} AND local_day >= {} AND request_hash = {} "
                     "AND submitted_at >= {} ORDER BY id LIMIT 1", actor.id, rules.local_date(now - within),
                     request_hash, now - within)
    return await member_view(actor, rules, rows[0]["id"]) if rows else None


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


class Earlier(NamedTuple):
    """The first earlier open report of the same thing nearby (首报), and whether the same member sent it."""
    id: int
    own: bool


async def earlier_reports(rules: Rules, ids: list[int]) -> dict[int, Earlier]:
    """For each submission in `ids`, the first earlier open report of the same item nearby (首报), if any."""
    if not ids:
        return {}
    window = timedelta(hours=rules.duplicates.window_hours)
    dlat, dlng = geo.degree_box(60.0, rules.duplicates.distance_m)  # a box wide enough up to 60° latitude
    statuses = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    rows = await sql(
        "SELECT s.id AS sid, s.lat AS slat, s.lng AS slng, s.submitted_at AS st, s.member AS smember, "
        "d.id AS did, d.lat AS dlat, d.lng AS dlng, d.submitted_at AS dt, d.member AS dmember "
        "FROM submission s JOIN submission d ON d.item_id = s.item_id AND d.community = s.community "
        f"AND d.id < s.id AND d.status IN ({statuses}) "
        "AND d.lat BETWEEN s.lat - {} AND s.lat + {} AND d.lng BETWEEN s.lng - {} AND s.lng + {} "
        f"WHERE s.lat IS NOT NULL AND s.id IN ({marks(ids)})",
        dlat, dlat, dlng, dlng, *ids)
    first: dict[int, Earlier] = {}
    for r in rows:
        if abs(r["st"] - r["dt"]) > window:
            continue
        if geo.distance_m(r["slat"], r["slng"], r["dlat"], r["dlng"]) > rules.duplicates.distance_m:
            continue
        if r["sid"] not in first or r["did"] < first[r["sid"]].id:
            first[r["sid"]] = Earlier(r["did"], r["dmember"] == r["smember"])
    return first
