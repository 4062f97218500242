"""The migrations describe the tables as `points/tables.py` declares them."""

from __future__ import annotations

import asyncio

from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder


def test_no_table_change_lacks_its_migration():
    """What `piccolo migrations new points --auto` would write now: nothing, or a migration is missing."""
    app = Finder().get_app_config("points")
    changes = asyncio.run(AutoMigrationManager(auto_input="y").get_alter_statements(app_config=app))
    missing = [line for change in changes for line in change.statements]
    assert not missing, "tables changed without a migration (run: piccolo migrations new points --auto):\n" + \
        "\n".join(missing)
