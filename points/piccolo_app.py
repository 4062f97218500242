"""Registers the points tables and their migrations with piccolo."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="points",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["points.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
