"""Distances and grid look-up on lat/lng (WGS-84 degrees)."""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def contains(polygon: Sequence[Sequence[float]], lat: float, lng: float) -> bool:
    """Ray casting; `polygon` is a list of [lat, lng] corners."""
    inside = False
    n = len(polygon)
    for i in range(n):
        (y1, x1), (y2, x2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > lat) != (y2 > lat) and lng < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside
