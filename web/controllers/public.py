"""What anyone may read: the scheme in force, and a health check."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from points import db
from rules import Rules
from web.schemas import RulesOut


class PublicController(Controller):
    tags = ["public"]

    @get("/api/v1/rules", operation_id="rules", exclude_from_auth=True)
    async def rules(self, rules: NamedDependency[Rules]) -> RulesOut:
        return RulesOut(
            id=rules.id, version=rules.version, name_zh=rules.name_zh, name_en=rules.name_en,
            timezone=rules.timezone, daily_cap=rules.daily_cap, monthly_cap=rules.monthly_cap,
            first_reporter_only=rules.first_reporter_only, duplicate_distance_m=rules.duplicates.distance_m,
            duplicate_window_hours=rules.duplicates.window_hours, categories=list(rules.categories),
            items=list(rules.items))

    @get("/healthz", operation_id="health", exclude_from_auth=True)
    async def health(self) -> dict[str, str]:
        await db.sql("SELECT 1 AS ok")
        return {"status": "ok"}
