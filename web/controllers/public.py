"""What anyone may read: the scheme in force, a liveness check and a readiness check."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from points.areas import schemes
from points.errors import NotFound
from points.infra import db
from points.ledger import honours
from points.people import communities
from rules import Rules
from web.schemas.accounts import BoardEntry
from web.schemas.reports import RulesOut, rules_out
from web.sessions import Sessions

READY_TIMEOUT_S = 3


class PublicController(Controller):
    tags = ["public"]

    @get("/api/v1/rules", operation_id="rules", public=True)
    async def rules(self, rules: NamedDependency[Rules],
                    community: Annotated[str | None, QueryParameter(max_length=32)] = None) -> RulesOut:
        """The scheme in force: of the community whose code is given, else the caller's (or the default)."""
        if community:
            rules = await schemes.for_community((await communities.community_by_code(community))["id"])
        return rules_out(rules)

    @get("/api/v1/rules/versions/{version:str}", operation_id="rulesVersion", public=True,
         media_type="text/plain; charset=utf-8")
    async def rules_version(self, version: FromPath[str]) -> str:
        """A rules file exactly as it was when any process ran with it: why an old award gave what it gave."""
        content = await schemes.stored_version(version)
        if content is None:
            raise NotFound("rules version")
        return content

    @get("/api/v1/honours/board", operation_id="honourBoard")
    async def board(self, request: Request, rules: NamedDependency[Rules],
                    month: FromQuery[str | None] = None) -> list[BoardEntry]:
        """The member's community's honour board: this month as it stands, or a finished month as kept."""
        return msgspec.convert(await honours.board(rules, request.user.community_id, month), list[BoardEntry])

    @get("/healthz", operation_id="health", public=True)
    async def health(self) -> dict[str, str]:
        """Liveness: the process answers. It looks at nothing else, so a database outage never gets a
        healthy app process restarted."""
        return {"status": "ok"}

    @get("/readyz", operation_id="ready", public=True)
    async def ready(self, sessions: NamedDependency[Sessions]) -> Response[dict[str, str]]:
        """Readiness, for a load balancer: the database and Redis, each "ok" or "down" (503 when one is)."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(db.ping(), READY_TIMEOUT_S)
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "down"
        try:
            used = await asyncio.wait_for(sessions.ping(), READY_TIMEOUT_S)
            checks["redis"] = "ok" if used else "not used"
        except Exception:
            checks["redis"] = "down"
        down = "down" in checks.values()
        return Response({"status": "unavailable" if down else "ok", **checks}, status_code=503 if down else 200,
                        headers={"Retry-After": "5"} if down else None)
