"""Referrals (推荐): a member's own code to share (unique by the next migration's index: SQLite cannot add a
unique column), and who referred them."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "referrals: a member's code to share, and who referred them"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="points", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Member",
        tablename="member",
        column_name="referral_code",
        db_column_name="referral_code",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 12,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Member",
        tablename="member",
        column_name="referred_by",
        db_column_name="referred_by",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
