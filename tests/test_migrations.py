"""The migrations describe the tables as `points/tables.py` declares them."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from points.vocabulary import finished_case_sql


def test_no_table_change_lacks_its_migration():
    """What `piccolo migrations new points --auto` would write now: nothing, or a migration is missing."""
    app = Finder().get_app_config("points")
    changes = asyncio.run(AutoMigrationManager(auto_input="y").get_alter_statements(app_config=app))
    missing = [line for change in changes for line in change.statements]
    assert not missing, "tables changed without a migration (run: piccolo migrations new points --auto):\n" + \
        "\n".join(missing)


@pytest.mark.pure
def test_the_partial_indexes_say_what_the_queries_say():
    """A planner uses a partial index only for a query whose condition is the index's: the board's and the public
    page's case reads spell theirs with `finished_case_sql`, the migration with its own frozen words."""
    indexes = importlib.import_module("points.piccolo_migrations.points_2026_12_07t02_00_00_000000").INDEXES
    assert indexes["case_file_in_hand"].endswith(" WHERE " + finished_case_sql(False))
    assert indexes["case_file_finished"].endswith(" WHERE " + finished_case_sql())
