"""The shop's invariants in the database: stock never goes below 0; an index for per-member limits."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T01:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "shop: stock never negative, limit index"

INDEXES = ["CREATE INDEX IF NOT EXISTS redemption_limit ON redemption (member, reward, period)"]
SQLITE = ["""CREATE TRIGGER reward_stock_not_negative BEFORE UPDATE OF stock ON reward WHEN NEW.stock < 0
             BEGIN SELECT RAISE(ABORT, 'reward stock would go negative'); END"""]
POSTGRES = ["ALTER TABLE reward ADD CONSTRAINT reward_stock_not_negative CHECK (stock >= 0)"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for statement in [*INDEXES, *(SQLITE if DB.engine_type == "sqlite" else POSTGRES)]:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
