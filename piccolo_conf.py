"""Piccolo's configuration: the engine comes from DATABASE_URL (see points/infra/config.py)."""

from piccolo.conf.apps import AppRegistry

from points.infra.db import engine

DB = engine()

APP_REGISTRY = AppRegistry(apps=["points.piccolo_app"])
