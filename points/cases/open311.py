"""Open311 GeoReport v2, the domain side: a community's scheme as services, its reports as service requests.

What it guarantees:
- A jurisdiction is a community, named by its code; with more than one community it must be named.
- Services are the scheme's reportable items (service_code = item id, group = category), in the caller's
  language; an item with a unit count has one attribute, `units`.
- Requests show public fields only: never the reporter, the points, a place finer than 3 decimals (about
  100 m, as on the public page), nor a photo; the description only once staff have verified the report,
  with anything that looks like a phone number masked.
- Status: `open` while it waits for verification or its case is being handled; `closed` once rejected or
  reversed, once its case is closed or resolved on site, or once awarded when it opens no case.
  `status_notes` says which, `agency_responsible` names the unit, `expected_datetime` is the deadline.
- Filing goes through the same intake as any report (evidence, caps, duplicates, limits): see web/flows.py.
"""

from __future__ import annotations

import logging
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

from points import clock
from points.errors import Invalid, NotFound, checked
from points.infra import outbound
from points.infra.db import marks, sql
from points.privacy import coarse, mask_phones
from points.vocabulary import CaseState, SubmissionStatus
from points.wording import pair
from rules import Item, Rules, fields

log = logging.getLogger("jifen.open311")
MAX_PAGE = 1000  # the spec's default volume: 90 days or 1,000 requests, whichever is smaller
MAX_SPAN = timedelta(days=90)
SPEC = "http://wiki.open311.org/GeoReport_v2"
CLOSED_CASE = (CaseState.CLOSED, CaseState.RESOLVED_ON_SITE)
# The request's status, in SQL, from the report (s) and its case (c): one rule for the filter and the view.
STATUS_SQL = (f"CASE WHEN s.status IN ('{SubmissionStatus.REJECTED}', '{SubmissionStatus.REVERSED}') THEN 'closed' "
              f"WHEN c.state IN ('{CaseState.CLOSED}', '{CaseState.RESOLVED_ON_SITE}') THEN 'closed' "
              f"WHEN s.status = '{SubmissionStatus.AWARDED}' AND c.id IS NULL THEN 'closed' ELSE 'open' END")


async def jurisdictions(lang: str) -> list[dict[str, str]]:
    """Every community a client may name as `jurisdiction_id` (listed by discovery: communities are public)."""
    rows = await sql("SELECT code, name, name_en FROM community ORDER BY code")
    return [{"jurisdiction_id": r["code"], "name": r["name_en"] if lang == "en" and r["name_en"] else r["name"]}
            for r in rows]


async def jurisdiction(code: str | None) -> dict[str, Any]:
    """The community a call is about: the one named, or the only one there is."""
    if code:
        rows = await sql("SELECT id, code, name, name_en FROM community WHERE code = {}", code)
        if not rows:
            raise NotFound("jurisdiction")
        return rows[0]
    rows = await sql("SELECT id, code, name, name_en FROM community ORDER BY id LIMIT 2")
    if len(rows) != 1:
        raise Invalid("jurisdiction_required", "jurisdiction_id: this server serves several communities; "
                      "give one's code (discovery lists them)", field="jurisdiction_id")
    return rows[0]


def _name(thing: Any, lang: str) -> str:
    return thing.name_en if lang == "en" and thing.name_en else thing.name_zh


def service(rules: Rules, item: Item, lang: str) -> dict[str, Any]:
    return {"service_code": item.id, "service_name": _name(item, lang),
            "description": _name(rules.category(item.category), lang) + " / " + _name(item, lang),
            "metadata": item.max_units > 1, "type": "realtime", "keywords": item.category,
            "group": _name(rules.category(item.category), lang)}


def services(rules: Rules, lang: str) -> list[dict[str, Any]]:
    """Every item members may report, as a service."""
    return [service(rules, item, lang) for item in rules.items if item.reportable and not item.is_deduction]


def reportable(rules: Rules, service_code: str) -> Item:
    item = rules.item(service_code)
    if item is None or not item.reportable or item.is_deduction:
        raise NotFound("service")
    return item


def definition(rules: Rules, service_code: str, lang: str) -> dict[str, Any]:
    item = reportable(rules, service_code)
    attributes = []
    if item.max_units > 1:
        attributes.append({"variable": True, "code": "units", "datatype": "number", "required": False,
                           "datatype_description": f"1-{item.max_units}", "order": 1,
                           "description": item.unit or "units", "values": []})
    return {"service_code": item.id, "attributes": attributes}


async def fetch_media(url: str, allowed_hosts: tuple[str, ...], max_bytes: int) -> bytes:
    """A photo from `media_url`, only from a host the deployment allows (none by default) and through the one
    way out (points/infra/outbound.py: no redirects, no internal addresses, bounded): never an arbitrary URL,
    which would let a caller make this server fetch anything it can reach. What went wrong is logged; the caller
    hears only that the photo could not be fetched."""
    try:
        parsed = urllib.parse.urlsplit(url)
        netloc = parsed.netloc.lower()
    except ValueError:
        netloc = ""
    if not netloc or parsed.scheme not in ("http", "https") or netloc not in allowed_hosts:
        raise Invalid("media_host_not_allowed", "media_url: photos are fetched only from the hosts this "
                      "deployment allows (JIFEN_OPEN311_MEDIA_HOSTS)", field="media_url")
    try:
        return (await outbound.fetch("GET", url, max_bytes=max_bytes)).body
    except outbound.TooLarge:
        raise Invalid("media_too_large", f"media_url: the photo is larger than {max_bytes} bytes",
                      field="media_url") from None
    except outbound.OutboundError as exc:
        log.warning("open311 media_url from %s: %s", netloc, exc)
        raise Invalid("media_unreachable", "media_url: could not fetch the photo", field="media_url") from None


def _when(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _notes(row: dict[str, Any], lang: str) -> str:
    unit = row["unit"] or ""
    if row["case_state"] and row["status"] not in (SubmissionStatus.REJECTED, SubmissionStatus.REVERSED):
        key = f"case_{row['case_state']}"
    else:
        key = row["status"]
    reason = ""
    if row["status"] == SubmissionStatus.REJECTED and row["reject_reason"]:
        reason = pair("reject", row["reject_reason"])[lang == "en"]
    return pair("open311", key, unit=unit, reason=reason)[lang == "en"]


def _view(rules: Rules, row: dict[str, Any], lang: str) -> dict[str, Any]:
    item = rules.item(row["item_id"])
    verified = row["verified_at"] is not None and row["status"] != SubmissionStatus.REJECTED
    return {
        "service_request_id": str(row["id"]), "status": row["open311_status"], "status_notes": _notes(row, lang),
        "service_name": _name(item, lang) if item else row["item_id"], "service_code": row["item_id"],
        "description": mask_phones(row["description"]) if verified else "",
        "agency_responsible": row["unit"] or "", "service_notice": "", "address": "", "address_id": "",
        "zipcode": "", "requested_datetime": _when(row["submitted_at"]),
        "updated_datetime": _when(max((t for t in (row["submitted_at"], row["verified_at"], row["awarded_at"],
                                                   row["case_updated"]) if t), key=_when)),
        "expected_datetime": _when(row["deadline"]), "lat": coarse(row["lat"]), "long": coarse(row["lng"]),
        "media_url": "",
    }


SELECT = (f"SELECT s.id, s.item_id, s.status, s.description, s.reject_reason, s.submitted_at, s.verified_at, "
          f"s.awarded_at, s.lat, s.lng, c.state AS case_state, c.deadline, c.updated_at AS case_updated, "
          f"u.name AS unit, {STATUS_SQL} AS open311_status FROM submission s "
          "LEFT JOIN case_file c ON c.submission = s.id LEFT JOIN unit u ON u.id = c.unit")


def _w3c(value: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("invalid_date", f"{field}: a W3C date-time with its zone, e.g. 2026-11-01T00:00:00+08:00",
                      field=field) from None
    return checked(fields.MOMENT, field, moment)


def paging(page: str, page_size: str) -> tuple[int, int]:
    """A query's page and page size, as sent: each a whole number in range, or 400 saying what is wrong."""
    number, problem = fields.whole(page or "1", fields.OPEN311_PAGE)
    if problem:
        raise Invalid("invalid_page", f"page: {problem[1]}", field="page")
    size, problem = fields.whole(page_size or str(MAX_PAGE), fields.ID)
    if problem:
        raise Invalid("invalid_page_size", f"page_size: a whole number from 1 to {MAX_PAGE}", field="page_size")
    if size > MAX_PAGE:
        raise Invalid("page_too_large", f"page_size: at most {MAX_PAGE}", field="page_size")
    return number, size


async def query(community_id: int, rules: Rules, lang: str, ids: str = "", codes: str = "", start: str = "",
                end: str = "", status: str = "", page: str = "", page_size: str = "") -> list[dict[str, Any]]:
    """GET requests: by ids (which overrides the rest), else by service codes, a window of at most 90 days
    (the last 90 by default) and status; newest first, `page_size` (at most 1,000) a page."""
    page_number, size = paging(page, page_size)
    where, args = " WHERE s.community = {}", [community_id]
    if ids:
        wanted = [fields.whole(i, fields.ID)[0] for i in ids.split(",")][:MAX_PAGE]
        if not wanted or None in wanted:
            raise Invalid("invalid_id", "service_request_id: comma-separated request ids", field="service_request_id")
        where += f" AND s.id IN ({marks(wanted)})"
        args += wanted
    else:
        until = _w3c(end, "end_date") if end else clock.now()
        since = _w3c(start, "start_date") if start else until - MAX_SPAN
        if since > until or until - since > MAX_SPAN:
            raise Invalid("invalid_range", "start_date to end_date: at most 90 days, start first", field="start_date")
        where += " AND s.submitted_at >= {} AND s.submitted_at <= {}"
        args += [since, until]
        if codes:
            wanted_codes = [c.strip() for c in codes.split(",") if c.strip()][:100]
            where += f" AND s.item_id IN ({marks(wanted_codes)})"
            args += wanted_codes
        if status:
            states = [s.strip() for s in status.split(",") if s.strip()]
            if not states or any(s not in ("open", "closed") for s in states):
                raise Invalid("invalid_status", "status: open, closed or both", field="status")
            where += f" AND {STATUS_SQL} IN ({marks(states)})"
            args += states
    # Newest first on the (community, submitted_at) index: a page of a busy 90 days is read, not sorted.
    rows = await sql(f"{SELECT}{where} ORDER BY s.submitted_at DESC LIMIT {{}} OFFSET {{}}",
                     *args, size, (page_number - 1) * size)
    return [_view(rules, r, lang) for r in rows]


async def one(community_id: int, rules: Rules, lang: str, request_id: str) -> dict[str, Any]:
    number, problem = fields.whole(request_id, fields.ID)
    if problem:
        raise NotFound("service request")
    rows = await sql(f"{SELECT} WHERE s.community = {{}} AND s.id = {{}}", community_id, number)
    if not rows:
        raise NotFound("service request")
    return _view(rules, rows[0], lang)
