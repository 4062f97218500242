"""SQLite refuses what PostgreSQL's CHECKs refuse on transfers: an amount of 0 or less, one account on both
sides (PostgreSQL has had both constraints from the start)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-29T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "transfers: amount > 0 and two accounts on SQLite too"

SQLITE = ["""CREATE TRIGGER transfer_amount_positive BEFORE INSERT ON transfer WHEN NEW.amount <= 0
             BEGIN SELECT RAISE(ABORT, 'a transfer moves a positive amount'); END""",
          """CREATE TRIGGER transfer_two_accounts BEFORE INSERT ON transfer
             WHEN NEW.debit_account = NEW.credit_account
             BEGIN SELECT RAISE(ABORT, 'a transfer moves points between two accounts'); END"""]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        if DB.engine_type == "sqlite":
            for statement in SQLITE:
                await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
