"""The standing honour board read in its own order: the top of a community's month comes off the index and the
read stops after the board's places, whatever the number of members (a home page asks for it every view)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index: the standing honour board in its order"

COLUMNS = "month_points (community, month, points DESC, reached_at, member)"


async def forwards():
    # Not in a transaction: on PostgreSQL the index is built CONCURRENTLY, so awards go on while it builds.
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION, wrap_in_transaction=False)

    async def run():
        from piccolo_conf import DB

        concurrently = "" if DB.engine_type == "sqlite" else " CONCURRENTLY"
        await DB.run_ddl(f"CREATE INDEX{concurrently} IF NOT EXISTS month_points_standing ON {COLUMNS}")

    manager.add_raw(run)
    return manager
