"""Reads that stay flat as a city's history grows: a member's own reports newest first (submission (member, id));
the case board's cases still in hand by deadline, and the public page's latest fixed, each off a partial index
that holds only its own cases (a community's closed cases outnumber its open ones a hundred to one)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: my reports, the case board, the latest fixed"

INDEXES = {
    "submission_member_id": "submission (member, id)",
    # The predicates as points.vocabulary.finished_case_sql spells them in the queries (tests/test_migrations.py)
    "case_file_in_hand": "case_file (community, deadline, id) WHERE state NOT IN ('closed', 'resolved_on_site')",
    "case_file_finished": "case_file (community, updated_at, id) WHERE state IN ('closed', 'resolved_on_site')",
}


async def forwards():
    # Not in a transaction: on PostgreSQL each index is built CONCURRENTLY, so reports and cases go on while it builds.
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION, wrap_in_transaction=False)

    async def run():
        from piccolo_conf import DB

        concurrently = "" if DB.engine_type == "sqlite" else " CONCURRENTLY"
        for name, columns in INDEXES.items():
            await DB.run_ddl(f"CREATE INDEX{concurrently} IF NOT EXISTS {name} ON {columns}")

    manager.add_raw(run)
    return manager
