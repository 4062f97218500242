"""Invariants the database itself enforces, and indexes the award path needs.

- `transfer` and `audit_event` are append-only: UPDATE and DELETE raise.
- A member-side account (anything but an issuance account) never goes below 0.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T01:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only ledger and audit, non-negative balances, indexes"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS submission_member_day ON submission (member, local_day)",
    "CREATE INDEX IF NOT EXISTS submission_item_lat ON submission (item_id, lat)",
    "CREATE INDEX IF NOT EXISTS submission_status_id ON submission (status, id)",
    "CREATE INDEX IF NOT EXISTS submission_queue ON submission (community, status, priority, id)",
]

SQLITE = [
    *(f"""CREATE TRIGGER {table}_append_only_{op.lower()} BEFORE {op} ON {table}
          BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""" for table in ("transfer", "audit_event")
      for op in ("UPDATE", "DELETE")),
    """CREATE TRIGGER account_balance_not_negative BEFORE UPDATE OF balance ON account
       WHEN NEW.balance < 0 AND NEW.kind NOT IN ('issuance', 'lifetime_issuance')
       BEGIN SELECT RAISE(ABORT, 'account balance would go negative'); END""",
]

POSTGRES = [
    """CREATE FUNCTION jifen_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""",
    *(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
          FOR EACH ROW EXECUTE FUNCTION jifen_append_only()""" for table in ("transfer", "audit_event")),
    """ALTER TABLE account ADD CONSTRAINT account_balance_not_negative
       CHECK (balance >= 0 OR kind IN ('issuance', 'lifetime_issuance'))""",
    "ALTER TABLE transfer ADD CONSTRAINT transfer_amount_positive CHECK (amount > 0)",
    "ALTER TABLE transfer ADD CONSTRAINT transfer_two_accounts CHECK (debit_account <> credit_account)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        statements = SQLITE if DB.engine_type == "sqlite" else POSTGRES
        for statement in [*INDEXES, *statements]:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
