"""Grids as places: boundaries imported from a GeoJSON file with the CLI (a concave grid with a hole beside a
square one), reports placed by the boundary — not the nearest centre — with the edge cases a real map has
(the notch of a concave grid, a hole, a shared edge, a hole's edge, nowhere at all), bad files refused with
the feature and field named, and the staff's offline map of the reports."""

from __future__ import annotations

import json
import re

from conftest import photo, python, run
from harness import older_database
from points.infra.db import sql

# Around (23.50 N, 116.80 E), away from the demo layout's grids. A1 is an L: the square [0, 0.01]² less its
# north-east quarter, with a square hole in its south-west quarter. B1 is the square east of A1's lower arm,
# sharing the edge x = 0.01 for y in [0, 0.005].
X, Y = 116.80, 23.50


def at(dx: float, dy: float) -> dict[str, float]:
    return {"lat": round(Y + dy, 7), "lng": round(X + dx, 7)}


def ring(*corners: tuple[float, float]) -> list[list[float]]:
    points = [[round(X + dx, 7), round(Y + dy, 7)] for dx, dy in corners]
    return points + [points[0]]


L_SHAPE = ring((0, 0), (0.01, 0), (0.01, 0.005), (0.005, 0.005), (0.005, 0.01), (0, 0.01))
HOLE = ring((0.001, 0.001), (0.003, 0.001), (0.003, 0.003), (0.001, 0.003))
SQUARE = ring((0.01, 0), (0.02, 0), (0.02, 0.005), (0.01, 0.005))
BOUNDARIES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"code": "A1", "name": "第一网格(L形)"},
     "geometry": {"type": "Polygon", "coordinates": [L_SHAPE, HOLE]}},
    {"type": "Feature", "properties": {"code": "B1", "name": "第二网格"},
     "geometry": {"type": "MultiPolygon", "coordinates": [[SQUARE]]}},
    {"type": "Feature", "properties": {"code": "G1", "name": "第一网格(新边界)"},
     "geometry": {"type": "Polygon", "coordinates": [ring((0.03, 0), (0.04, 0), (0.04, 0.01), (0.03, 0.01))]}},
]}


def test_reports_are_placed_by_the_boundaries_imported_from_a_file(api, community, tmp_path):
    code = run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(BOUNDARIES, ensure_ascii=False), encoding="utf-8")
    checked = python("-m", "rules", "check", str(path))
    assert checked.returncode == 0 and "3 grids" in checked.stdout, checked.stdout + checked.stderr
    imported = python("-m", "points", "import-grids", "--community", code, str(path))
    assert imported.returncode == 0, imported.stderr
    assert "2 grid(s) added, 1 changed; not in the file, left as they were: G2, G3, G4" in imported.stdout

    cases = {  # where → (the grid, out of area)
        "in the L's upper arm": (at(0.002, 0.008), "A1", False),
        "in the L's notch (inside its box, outside the L)": (at(0.008, 0.008), None, True),
        "in the hole": (at(0.002, 0.002), None, True),
        "on the hole's edge": (at(0.002, 0.001), "A1", False),
        "on the edge A1 and B1 share": (at(0.01, 0.0025), "A1", False),
        "inside B1": (at(0.015, 0.0025), "B1", False),
        "in G1's new place": (at(0.035, 0.005), "G1", False),
        "nowhere near": (at(0.5, 0.5), None, True),
    }
    reporters = community.riders + community.residents
    ids = {}
    for n, (where, (spot, _, _)) in enumerate(cases.items()):
        made = api.submit(reporters[n % len(reporters)], "order.garbage_pileup", [photo()], description=where, **spot)
        assert made.status_code == 201, (where, made.text)
        ids[where] = made.json()["id"]
    for where, (_, grid, outside) in cases.items():
        seen = api.submission(community.staff, ids[where])
        assert (seen["grid"], seen["out_of_area"]) == (grid, outside), where

    queue = api.get("/staff/queue", community.staff).text
    assert queue.count("区域外") == 3
    svg = queue.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="grid"') == 6 and svg.count('class="pin"') == len(cases)  # G1–G4, A1, B1; each report
    assert "A1" in svg and "#c5221f" not in svg  # garbage is P3: blue pins
    dashboard = api.get("/staff/dashboard", community.staff).text
    assert "未办结问题分布图" in dashboard and dashboard.count('class="pin"') == len(cases)


def test_a_bad_boundary_file_is_refused_naming_the_feature_and_field(community, tmp_path):
    code = run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]
    before = run(sql("SELECT code, polygon FROM grid WHERE community = {} ORDER BY code", community.id))
    bad = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "无编号"}, "geometry": {"type": "Polygon", "coordinates": [L_SHAPE]}},
        {"type": "Feature", "properties": {"code": "C1", "name": "没闭合"},
         "geometry": {"type": "Polygon", "coordinates": [L_SHAPE[:-1]]}},
        {"type": "Feature", "properties": {"code": "C2", "name": "经纬度颠倒"},
         "geometry": {"type": "Polygon", "coordinates": [[[p[1], p[0] + 100] for p in SQUARE]]}},
        {"type": "Feature", "properties": {"code": "C3", "name": "是线"},
         "geometry": {"type": "LineString", "coordinates": SQUARE}},
    ]}
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    refused = python("-m", "points", "import-grids", "--community", code, str(path))
    assert refused.returncode == 1
    said = refused.stderr
    assert "feature 1, properties.code: is missing" in said
    assert "feature 2 (C1), geometry: ring 1: a ring must end where it starts (closed)" in said
    assert re.search(r"feature 3 \(C2\), geometry: ring 1: position .* is not a place on Earth", said)
    assert "feature 4 (C3), geometry: geometry must be a Polygon or a MultiPolygon" in said
    assert run(sql("SELECT code, polygon FROM grid WHERE community = {} ORDER BY code", community.id)) == before


def test_an_older_database_keeps_its_grids_as_boundaries(tmp_path):
    """A database made before boundaries were GeoJSON: its [lat, lng] corners become a closed GeoJSON ring."""
    import sqlite3

    to_head = older_database(tmp_path, "2026-11-30T01:00:00:000000")
    with sqlite3.connect(tmp_path / "jifen.sqlite3") as db:
        db.execute("INSERT INTO community (code, name, name_en, residents_need_approval, created_at) "
                   "VALUES ('old', '老社区', 'Old', 0, '2026-11-01T00:00:00+00:00')")
        db.execute("INSERT INTO grid (community, code, name, polygon) VALUES (1, 'G1', '一格', ?)",
                   (json.dumps([[23.46, 116.75], [23.46, 116.76], [23.47, 116.76], [23.47, 116.75]]),))
    to_head()
    with sqlite3.connect(tmp_path / "jifen.sqlite3") as db:
        boundary = json.loads(db.execute("SELECT polygon FROM grid WHERE code = 'G1'").fetchone()[0])
    assert boundary == {"type": "Polygon", "coordinates": [[[116.75, 23.46], [116.76, 23.46], [116.76, 23.47],
                                                             [116.75, 23.47], [116.75, 23.46]]]}
