from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod
from piccolo.querystring import QueryString

ID = "2026-11-30T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "grids: boundaries as GeoJSON; reports flag a place outside every grid"


async def _boundaries_to_geojson():
    """Grid boundaries were lists of [lat, lng] corners: each becomes a GeoJSON Polygon, [lng, lat], closed."""
    import json

    from piccolo_conf import DB

    for row in await DB.run_querystring(QueryString("SELECT id, polygon FROM grid")):
        corners = json.loads(row["polygon"]) if isinstance(row["polygon"], str) else row["polygon"]
        if not isinstance(corners, list) or not corners:
            continue
        ring = [[lng, lat] for lat, lng in corners]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        geometry = json.dumps({"type": "Polygon", "coordinates": [ring]})
        await DB.run_querystring(QueryString("UPDATE grid SET polygon = {} WHERE id = {}", geometry, row["id"]))


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="points", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Submission",
        tablename="submission",
        column_name="out_of_area",
        db_column_name="out_of_area",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_raw(_boundaries_to_geojson)
    return manager
