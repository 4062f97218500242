"""Indexes that keep reads flat as history grows: a member's history walks its account's transfers newest
first (credit and debit side each on its own index), the dashboard and the honour board read a period's
transfers and reports by time, and the task lists read a community's tasks by start and a member's
sign-ups by state."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: history by account and id, transfers and reports by time, tasks by start"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS transfer_credit_id ON transfer (credit_account, id)",
    "CREATE INDEX IF NOT EXISTS transfer_debit_id ON transfer (debit_account, id)",
    "CREATE INDEX IF NOT EXISTS transfer_code_created ON transfer (code, created_at)",
    "CREATE INDEX IF NOT EXISTS submission_community_submitted ON submission (community, submitted_at)",
    "CREATE INDEX IF NOT EXISTS task_community_status_starts ON task (community, status, starts_at)",
    "CREATE INDEX IF NOT EXISTS task_signup_member_state ON task_signup (member, state)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for statement in INDEXES:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
