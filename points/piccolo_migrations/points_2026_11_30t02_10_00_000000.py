"""The standing honour board's months, filled in from every award so far, and the index the board reads."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T02:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "month points: filled in from the awards so far"

BOARD_INDEX = "CREATE INDEX IF NOT EXISTS month_points_board ON month_points (community, month, points)"


def _backfill_sql(month: str, source: str = "") -> str:
    """Every award so far, by community, member and `month` (an expression: the month of t.created_at)."""
    return ("INSERT INTO month_points (key, community, month, member, points, reached_at) "
            f"SELECT a.community || ':' || {month} || ':' || a.member, a.community, {month}, a.member, SUM(t.amount), "
            f"MAX(t.created_at) FROM transfer t JOIN account a ON a.id = t.credit_account{source} "
            f"WHERE t.code = 'award' AND a.kind = 'spendable' GROUP BY a.community, a.member, {month}")


async def _backfill():
    """Months of the default scheme's calendar (SQLite: its offset from UTC now; the default has no DST)."""
    from datetime import datetime

    from piccolo_conf import DB
    from points.areas import schemes

    tz = schemes.current().tz
    await DB.run_ddl(BOARD_INDEX)
    if DB.engine_type == "sqlite":
        hours = datetime.now(tz).utcoffset().total_seconds() / 3600
        await DB.run_ddl(_backfill_sql(f"strftime('%Y-%m', t.created_at, '{hours:+g} hours')"))
    else:
        await DB.run_ddl(_backfill_sql("x.m", f", LATERAL (SELECT to_char(t.created_at AT TIME ZONE '{tz.key}', "
                                              "'YYYY-MM') AS m) x"))


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="points", description=DESCRIPTION)
    manager.add_raw(_backfill)
    return manager
