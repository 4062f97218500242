"""Distances and grid look-up on lat/lng (WGS-84 degrees); grid boundaries are GeoJSON ([lng, lat])."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def degree_box(lat: float, metres: float) -> tuple[float, float]:
    """Half-sizes (in degrees of lat, lng) of a box that holds a circle of `metres` around `lat`."""
    dlat = metres / 111_000
    dlng = metres / (111_000 * max(math.cos(math.radians(lat)), 0.01))
    return dlat, dlng


def _on_segment(lng: float, lat: float, a: Sequence[float], b: Sequence[float]) -> bool:
    (x1, y1), (x2, y2) = a[:2], b[:2]
    cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lng - x1)
    if abs(cross) > 1e-12 * max(1.0, abs(x2 - x1) + abs(y2 - y1)):
        return False
    return min(x1, x2) - 1e-12 <= lng <= max(x1, x2) + 1e-12 and min(y1, y2) - 1e-12 <= lat <= max(y1, y2) + 1e-12


def _in_ring(ring: Sequence[Sequence[float]], lat: float, lng: float) -> tuple[bool, bool]:
    """(inside, on the boundary) of one closed ring of [lng, lat] positions, by ray casting."""
    inside = False
    for a, b in zip(ring, ring[1:], strict=False):
        if _on_segment(lng, lat, a, b):
            return True, True
        (x1, y1), (x2, y2) = a[:2], b[:2]
        if (y1 > lat) != (y2 > lat) and lng < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside, False


def contains(geometry: dict[str, Any], lat: float, lng: float) -> bool:
    """Whether a GeoJSON Polygon or MultiPolygon holds the point: inside a polygon's outer ring and outside its
    holes. A grid holds its boundary, the edges of its holes included (a point on a line two grids share is
    in both; the caller picks one)."""
    coordinates = geometry.get("coordinates") or []
    polygons = [coordinates] if geometry.get("type") == "Polygon" else coordinates
    for rings in polygons:
        if not rings:
            continue
        inside, _ = _in_ring(rings[0], lat, lng)
        if inside and not any(hole_in and not edge for hole_in, edge in (_in_ring(h, lat, lng) for h in rings[1:])):
            return True
    return False


def bounds(geometries: Sequence[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of every position of these geometries; None when there are none."""
    xs, ys = [], []
    for g in geometries:
        coordinates = g.get("coordinates") or []
        for rings in [coordinates] if g.get("type") == "Polygon" else coordinates:
            for ring in rings:
                xs += [p[0] for p in ring]
                ys += [p[1] for p in ring]
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None
