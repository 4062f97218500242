"""Every member gets a debt account (never above 0: what is owed after a clawback) and a hold account (if
they joined before those came); the balance guard learns the new kind. Indexes for the member list and
approvals."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "debt accounts, balance guard for debt, indexes"

COMMON = [
    *(f"INSERT INTO account (key, kind, member, community, balance) SELECT '{kind}:member:' || id, '{kind}', id, "
      "community, 0 FROM member WHERE true ON CONFLICT (key) DO NOTHING" for kind in ("hold", "debt")),
    "CREATE INDEX IF NOT EXISTS member_community_status ON member (community, status, id)",
    "CREATE INDEX IF NOT EXISTS approval_submission ON approval (submission)",
]
SQLITE = [
    "DROP TRIGGER account_balance_not_negative",
    """CREATE TRIGGER account_balance_not_negative BEFORE UPDATE OF balance ON account
       WHEN (NEW.balance < 0 AND NEW.kind NOT IN ('issuance', 'lifetime_issuance', 'debt'))
         OR (NEW.balance > 0 AND NEW.kind = 'debt')
       BEGIN SELECT RAISE(ABORT, 'account balance would go negative (or a debt above zero)'); END""",
]
POSTGRES = [
    "ALTER TABLE account DROP CONSTRAINT account_balance_not_negative",
    """ALTER TABLE account ADD CONSTRAINT account_balance_not_negative
       CHECK (kind IN ('issuance', 'lifetime_issuance') OR (kind = 'debt' AND balance <= 0)
              OR (kind <> 'debt' AND balance >= 0))""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for statement in [*COMMON, *(SQLITE if DB.engine_type == "sqlite" else POSTGRES)]:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
