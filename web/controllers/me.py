"""The member's own account: profile, balance, points history, submissions."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from points import expiry, honours, ledger, members, submissions
from rules import Rules
from web.schemas import Balance, Expiring, HistoryEntry, Me, Profile, Stars, SubmissionOut

Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["me"]

    @get("/", operation_id="me")
    async def me(self, request: Request, rules: NamedDependency[Rules]) -> Me:
        balance = await ledger.balances(request.user.id)
        lifetime = balance[ledger.LIFETIME]
        return Me(member=Profile(**await members.profile(request.user.id)), balance=Balance(**balance),
                  stars=Stars(level=honours.stars(rules, lifetime), next_at=honours.next_star(rules, lifetime)))

    @get("/history", operation_id="myHistory")
    async def history(self, request: Request, limit: FromQuery[Limit] = 50,
                      before: FromQuery[int | None] = None) -> list[HistoryEntry]:
        rows = await ledger.history(request.user.id, limit, before)
        return msgspec.convert(rows, list[HistoryEntry], from_attributes=True)

    @get("/submissions", operation_id="mySubmissions")
    async def submissions(self, request: Request, rules: NamedDependency[Rules], limit: FromQuery[Limit] = 50,
                          before: FromQuery[int | None] = None) -> list[SubmissionOut]:
        views = await submissions.mine(request.user, rules, limit, before)
        return msgspec.convert(views, list[SubmissionOut])

    @get("/expiring", operation_id="myExpiringPoints")
    async def expiring(self, request: Request, rules: NamedDependency[Rules]) -> list[Expiring]:
        return msgspec.convert(await expiry.upcoming(rules, request.user.id), list[Expiring])
