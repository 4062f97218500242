"""A community's grids (网格) as places: their GeoJSON boundaries, the grid a report's place lies in (by the
boundary, never the nearest centre), boundaries imported from a file, and the offline map staff and handlers
see — the boundaries drawn as SVG paths with the open reports as pins, computed here from the polygons (no
map tiles: nothing comes from the internet).

A place on a line two grids share lies in both; the grid with the lower code takes it. A place in none of
the community's grids (when it has boundaries) is out of area: the report is kept, flagged for staff.
"""

from __future__ import annotations

import json
import math
from typing import Any

from points import audit, scope
from points.areas import geo
from points.errors import Invalid
from points.infra.db import sql, write
from points.scope import Actor
from points.vocabulary import CaseState, SubmissionStatus
from rules.grids import GridShape

MAP_WIDTH = 1000  # the SVG's own units across; the page scales it
PRIORITY_COLOURS = {"P1": "#c5221f", "P2": "#e37400", "P3": "#1a73e8"}


def geometry_of(raw: Any) -> dict[str, Any] | None:
    """A grid's stored boundary as GeoJSON, or None when it has none."""
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) and value.get("coordinates") else None


async def listing(community_id: int) -> list[dict[str, Any]]:
    """A community's grids (code and name), to pick from when the phone gives no place."""
    return await sql("SELECT code, name FROM grid WHERE community = {} ORDER BY code", community_id)


async def shapes(community_id: int) -> list[dict[str, Any]]:
    """A community's grids with their boundaries (those that have one), by code."""
    rows = await sql("SELECT id, code, name, polygon FROM grid WHERE community = {} ORDER BY code", community_id)
    return [{**r, "geometry": g} for r in rows if (g := geometry_of(r.pop("polygon")))]


async def resolve(community_id: int, code: str | None, lat: float | None, lng: float | None) -> tuple[int | None, bool]:
    """(the grid a report belongs to, whether its place is out of area): the grid named, else the one whose
    boundary holds the place."""
    if code:
        rows = await sql("SELECT id FROM grid WHERE community = {} AND code = {}", community_id, code)
        if not rows:
            raise Invalid("unknown_grid", f"no grid {code!r} in your community", field="grid")
        return rows[0]["id"], False
    if lat is None or lng is None:
        return None, False
    grids = await shapes(community_id)
    found = next((g["id"] for g in grids if geo.contains(g["geometry"], lat, lng)), None)
    return found, found is None and bool(grids)


async def import_shapes(actor: Actor | None, community_id: int, found: list[GridShape]) -> dict[str, Any]:
    """Set the boundaries (and names) of the grids in a boundary file: a grid of the same code changes, a new
    code is added; a grid the file leaves out stays as it is (reports refer to it), and is named in the answer."""
    if actor is not None:
        scope.require_admin(actor, "change grid boundaries")

    async def run() -> dict[str, Any]:
        if actor is not None:
            await scope.community(actor, community_id)
        have = {r["code"]: r["id"] for r in await sql("SELECT id, code FROM grid WHERE community = {}", community_id)}
        added = updated = 0
        for shape in found:
            boundary = json.dumps(shape.geometry)
            if shape.code in have:
                await sql("UPDATE grid SET name = {}, polygon = {} WHERE id = {}", shape.name, boundary,
                          have[shape.code])
                updated += 1
            else:
                await sql("INSERT INTO grid (community, code, name, polygon) VALUES ({}, {}, {}, {})", community_id,
                          shape.code, shape.name, boundary)
                added += 1
        left = sorted(set(have) - {s.code for s in found})
        await audit.record(actor.id if actor else None, "community.grids", "community", community_id, community_id,
                           {"added": added, "updated": updated, "left_as_they_were": left[:50]})
        return {"added": added, "updated": updated, "left_as_they_were": left}

    return await write(run)


async def open_report_pins(community_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """The community's open problems with a place, for the map: reports waiting for staff, and verified ones
    whose case is not closed; the latest first."""
    rows = await sql(
        "SELECT s.id, s.lat, s.lng, s.priority, s.item_id FROM submission s LEFT JOIN case_file c ON c.submission = s.id "
        "WHERE s.community = {} AND s.lat IS NOT NULL AND (s.status IN ({}, {}, {}) "
        "OR (s.status = {} AND c.state IS NOT NULL AND c.state NOT IN ({}, {}))) ORDER BY s.id DESC LIMIT {}",
        community_id, SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND, SubmissionStatus.VERIFIED,
        SubmissionStatus.AWARDED, CaseState.CLOSED, CaseState.RESOLVED_ON_SITE, limit)
    return [{**r, "href": f"/staff/submissions/{r['id']}"} for r in rows]


async def map_view(community_id: int, pins: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An SVG map of the community's grids with `pins` ({lat, lng, priority, label, href}): paths and points in
    the map's own units, north up, east right, distances true at the map's middle latitude. None when the
    community has no boundaries."""
    grids = await shapes(community_id)
    box = geo.bounds([g["geometry"] for g in grids])
    if box is None:
        return None
    placed = [p for p in pins if p.get("lat") is not None and p.get("lng") is not None]
    west = min([box[0], *(p["lng"] for p in placed)])
    east = max([box[2], *(p["lng"] for p in placed)])
    south = min([box[1], *(p["lat"] for p in placed)])
    north = max([box[3], *(p["lat"] for p in placed)])
    squash = math.cos(math.radians((north + south) / 2))
    span = max((east - west) * squash, north - south, 1e-9)
    scale = (MAP_WIDTH - 40) / span
    height = round((north - south) * scale) + 40

    def xy(lng: float, lat: float) -> tuple[float, float]:
        return round(20 + (lng - west) * squash * scale, 1), round(20 + (north - lat) * scale, 1)

    def path(geometry: dict[str, Any]) -> str:
        coordinates = geometry["coordinates"]
        polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
        return " ".join("M" + " L".join("{},{}".format(*xy(p[0], p[1])) for p in ring) + " Z"
                        for rings in polygons for ring in rings)

    def centre(geometry: dict[str, Any]) -> tuple[float, float]:
        w, s, e, n = geo.bounds([geometry])
        return xy((w + e) / 2, (s + n) / 2)

    return {"width": MAP_WIDTH, "height": height,
            "grids": [{"code": g["code"], "name": g["name"], "d": path(g["geometry"]), "label": centre(g["geometry"])}
                      for g in grids],
            "pins": [{**p, "xy": xy(p["lng"], p["lat"]), "colour": PRIORITY_COLOURS.get(p.get("priority"), "#555")}
                     for p in placed]}
