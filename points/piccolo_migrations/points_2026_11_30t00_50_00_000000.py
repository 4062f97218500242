from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T00:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "cases: extensions asked by the unit"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="points", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Case",
        tablename="case_file",
        column_name="extension_reason",
        db_column_name="extension_reason",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
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
        table_class_name="Case",
        tablename="case_file",
        column_name="extension_until",
        db_column_name="extension_until",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
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
