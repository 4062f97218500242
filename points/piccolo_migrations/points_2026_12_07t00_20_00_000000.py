"""A referral code names one member: a unique index (members without a code yet hold none)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index: referral codes are unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("CREATE UNIQUE INDEX IF NOT EXISTS member_referral_code ON member (referral_code)")

    manager.add_raw(run)
    return manager
