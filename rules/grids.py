"""A community's grid boundaries (网格) as a GeoJSON file, checked: a FeatureCollection whose features each
carry `properties.code` and `properties.name` and a Polygon or MultiPolygon geometry (rings of [lng, lat]
positions, closed, the first ring the outside and any others holes, as RFC 7946 has it).

Pure Python. Every problem names the file, the feature and the field; `GridShape.geometry` is kept as
GeoJSON, which is what the database stores and points/areas/geo.py reads.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules import fields
from rules.loader import RulesError

MAX_FEATURES = 2000  # a street's grids; Dongguan's whole city has about 3,000
MAX_POSITIONS = 20_000  # corners in one grid's boundary


@dataclass(frozen=True)
class GridShape:
    code: str
    name: str
    geometry: dict[str, Any]  # {"type": "Polygon" | "MultiPolygon", "coordinates": …}


def _ring_problem(ring: Any) -> str | None:
    if not isinstance(ring, list) or len(ring) < 4:
        return "a ring needs at least 4 positions (a triangle, closed)"
    for p in ring:
        if not (isinstance(p, list) and len(p) in (2, 3)
                and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in p)):
            return "each position is [longitude, latitude]"
        if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
            return f"position {p[:2]} is not a place on Earth ([longitude, latitude])"
    if ring[0][:2] != ring[-1][:2]:
        return "a ring must end where it starts (closed)"
    return None


def _polygons(geometry: Any) -> tuple[list[Any] | None, str | None]:
    """The geometry's polygons (each a list of rings), or the problem with it."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None, "geometry must be a Polygon or a MultiPolygon"
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons or not all(isinstance(p, list) and p for p in polygons):
        return None, "geometry has no coordinates"
    return polygons, None


def check_grids(doc: Any, where: str = "<grids>") -> list[GridShape]:
    """The grids of a parsed GeoJSON document; RulesError listing every problem."""
    problems: list[str] = []
    features = doc.get("features") if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else None
    if not isinstance(features, list):
        raise RulesError(where, ["must be a GeoJSON FeatureCollection"])
    if len(features) > MAX_FEATURES:
        problems.append(f"at most {MAX_FEATURES} grids in one file")
    shapes, seen = [], set()
    for n, feature in enumerate(features[:MAX_FEATURES], 1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        code, name = props.get("code"), props.get("name")
        label = f"feature {n}" + (f" ({code})" if isinstance(code, str) else "")
        for field, value, spec in (("code", code, fields.GRID_CODE), ("name", name, fields.GRID_NAME)):
            problem = spec.problem(value) if value is not None else ("required", "is missing")
            if problem:
                problems.append(f"{label}, properties.{field}: {problem[1]}")
        if isinstance(code, str):
            if code in seen:
                problems.append(f"{label}, properties.code: the same code twice")
            seen.add(code)
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        polygons, problem = _polygons(geometry)
        if problem is None:
            rings = [r for p in polygons for r in p]
            problem = next((f"ring {i + 1}: {p}" for i, r in enumerate(rings) if (p := _ring_problem(r))), None)
            if problem is None and sum(len(r) for r in rings) > MAX_POSITIONS:
                problem = f"at most {MAX_POSITIONS} positions in one grid"
        if problem:
            problems.append(f"{label}, geometry: {problem}")
            continue
        shapes.append(GridShape(code, name, {"type": geometry["type"], "coordinates": geometry["coordinates"]}))
    if problems:
        raise RulesError(where, problems)
    return shapes


def load_grids(path: Path | str) -> list[GridShape]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RulesError(path, [f"not a readable JSON file: {exc}"]) from None
    return check_grids(doc, str(path))


def square(lat: float, lng: float, size: float) -> dict[str, Any]:
    """A square grid `size` degrees wide from its south-west corner (the demo's layout)."""
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return {"type": "Polygon", "coordinates": [ring]}
