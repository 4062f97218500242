"""The case figures find the cases fixed in a period from their timeline (a case counts in the period it was
disposed of): by action and time off an index, whatever the length of every case's history."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index: case events by action and time"

COLUMNS = "case_event (action, created_at)"


async def forwards():
    # Not in a transaction: on PostgreSQL the index is built CONCURRENTLY, so cases go on moving while it builds.
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION, wrap_in_transaction=False)

    async def run():
        from piccolo_conf import DB

        concurrently = "" if DB.engine_type == "sqlite" else " CONCURRENTLY"
        await DB.run_ddl(f"CREATE INDEX{concurrently} IF NOT EXISTS case_event_action_time ON {COLUMNS}")

    manager.add_raw(run)
    return manager
