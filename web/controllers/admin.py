"""Admins: staff accounts and roles, community settings and schemes, API tokens, the audit log."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from points import audit
from points.areas import schemes
from points.areas import tree as areas
from points.ops import stats
from points.people import communities, members, tokens
from rules import Rules
from web.auth import admin_only
from web.schemas.accounts import (
    AuditOut,
    CommunitySettingsIn,
    MemberOut,
    RoleIn,
    StaffCreateIn,
    TokenIn,
    TokenOut,
)
from web.schemas.base import DayQuery, IdPath, IdQuery, limit_query
from web.schemas.reports import RulesOut, SchemeIn, rules_out


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [admin_only]

    @post("/members", operation_id="createStaff", status_code=201)
    async def create_staff(self, request: Request, data: JSONBody[StaffCreateIn]) -> MemberOut:
        mid = await members.create_staff(request.user, data.community_id, data.role, data.name, data.phone,
                                         data.password, data.unit_id)
        return msgspec.convert(await members.view(request.user, mid), MemberOut)

    @post("/members/{member_id:int}/role", operation_id="setRole", status_code=200)
    async def set_role(self, request: Request, member_id: IdPath, data: JSONBody[RoleIn]) -> MemberOut:
        return msgspec.convert(await members.set_role(request.user, member_id, data.role), MemberOut)

    @post("/communities/{community_id:int}", operation_id="communitySettings", status_code=204)
    async def community(self, request: Request, community_id: IdPath,
                        data: JSONBody[CommunitySettingsIn]) -> None:
        await communities.set_community(request.user, community_id, data.residents_need_approval)

    @post("/communities/{community_id:int}/scheme", operation_id="setCommunityScheme", status_code=200)
    async def scheme(self, request: Request, community_id: IdPath, data: JSONBody[SchemeIn]) -> RulesOut:
        """Give the community a scheme of its own (the whole rules file, checked as `./dev check-rules` does;
        400 listing every problem in `problems_found`); in force from the next request, no restart."""
        return rules_out(await schemes.set_for_community(request.user, community_id, data.content))

    @get("/compare", operation_id="compareCommunities")
    async def compare(self, request: Request, rules: NamedDependency[Rules], since: DayQuery = None,
                      until: DayQuery = None) -> dict:
        """Every community in the admin's area (an area's admin: its subtree) over a period, the last 30 days by
        default: reports, verified share, hours to verify, points issued and redeemed, disposal rate; and
        the roll-up (`total`)."""
        start, end = stats.period(since, until, rules)
        return await areas.compare(request.user, start, end)

    @post("/tokens", operation_id="issueToken", status_code=201)
    async def issue_token(self, request: Request, data: JSONBody[TokenIn]) -> TokenOut:
        """The token is in this answer only; keep it safe. Only its hash is stored."""
        return msgspec.convert(await tokens.issue(request.user, data.name, data.community_id, data.role), TokenOut)

    @get("/tokens", operation_id="tokens")
    async def tokens(self, request: Request) -> list[TokenOut]:
        return msgspec.convert(await tokens.listing(request.user), list[TokenOut])

    @post("/tokens/{token_id:int}/revoke", operation_id="revokeToken", status_code=200)
    async def revoke_token(self, request: Request, token_id: IdPath) -> TokenOut:
        return msgspec.convert(await tokens.revoke(request.user, token_id), TokenOut)

    @get("/audit", operation_id="audit")
    async def audit_log(self, request: Request, action: FromQuery[str | None] = None,
                        community: IdQuery = None, actor: IdQuery = None,
                        object_type: FromQuery[str | None] = None, object_id: FromQuery[str | None] = None,
                        since: FromQuery[datetime | None] = None, until: FromQuery[datetime | None] = None,
                        before: IdQuery = None,
                        limit: limit_query(1000) = 100) -> list[AuditOut]:
        """Newest first; every filter given must match. Page with `before` (the last id seen)."""
        rows = await audit.listing(request.user, action, community, actor, object_type, object_id, since, until,
                                   limit, before)
        return msgspec.convert(rows, list[AuditOut])
