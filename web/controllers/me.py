"""The member's own account: profile, balance, points history, submissions; their data, and deletion."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from points.areas import schemes
from points.ledger import expiry, honours, statements
from points.ledger import transfers as ledger
from points.people import member_data, members, referrals
from points.reports import appeals
from points.reports import views as submissions
from rules import Rules
from web.schemas.accounts import (
    Balance,
    DeleteIn,
    Expiring,
    HistoryEntry,
    Me,
    PenaltyAppealOut,
    Profile,
    ReferralOut,
    Stars,
)
from web.schemas.base import IdPath, IdQuery, limit_query
from web.schemas.reports import SubmissionOut
from web.schemas.tasks import AppealIn
from web.sessions import Sessions, session_cookies
from web.view_cache import ViewCache


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["me"]

    @get("/", operation_id="me")
    async def me(self, request: Request, views: NamedDependency[ViewCache]) -> Me:
        async def read() -> Me:
            # Read with the view: a kept one needs none (and a second dependency costs litestar a task group).
            rules = await schemes.for_actor(request.user)
            profile, balance = await members.overview(request.user)
            lifetime = balance[ledger.LIFETIME]
            return Me(member=Profile(**profile), balance=Balance(**balance),
                      stars=Stars(level=honours.stars(rules, lifetime), next_at=honours.next_star(rules, lifetime)))

        return await views.kept(("me", request.user.id), request.user, read)

    @get("/referral", operation_id="myReferral")
    async def referral(self, request: Request) -> ReferralOut:
        """The member's 推荐码 and a registration link with it: a friend who registers with it and whose first
        report is verified brings them the scheme's `service.referral` points, once."""
        return ReferralOut(**await referrals.invitation(request.user, str(request.base_url)))

    @get("/history", operation_id="myHistory")
    async def history(self, request: Request, views: NamedDependency[ViewCache], limit: limit_query(200) = 50,
                      before: IdQuery = None) -> list[HistoryEntry]:
        async def read() -> list[HistoryEntry]:
            rules = await schemes.for_actor(request.user)
            rows = await appeals.of_history(request.user, rules, await ledger.history(request.user, limit, before))
            zh, en = await statements.described(rules, rows, "zh"), await statements.described(rules, rows, "en")
            return msgspec.convert([{**r, "words_zh": z["words"], "words_en": e["words"]}
                                    for r, z, e in zip(rows, zh, en, strict=True)], list[HistoryEntry],
                                   from_attributes=True)

        return await views.kept(("history", request.user.id, limit, before), request.user, read,
                                 size=lambda rows: 200 + 300 * len(rows))

    @post("/history/{transfer_id:int}/appeal", operation_id="appealPenalty", status_code=201)
    async def appeal(self, request: Request, transfer_id: IdPath, data: JSONBody[AppealIn],
                     rules: NamedDependency[Rules]) -> PenaltyAppealOut:
        """申诉: appeal a penalty the engine gave (恶意重复刷报) from its history line, once, within the scheme's
        `[scheme.duplicates] appeal_days`; staff decide (`POST /api/v1/staff/appeals/{id}`)."""
        return msgspec.convert(await appeals.appeal(request.user, rules, transfer_id, data.reason), PenaltyAppealOut)

    @get("/submissions", operation_id="mySubmissions")
    async def submissions(self, request: Request, rules: NamedDependency[Rules], limit: limit_query(200) = 50,
                          before: IdQuery = None) -> list[SubmissionOut]:
        views = await submissions.mine(request.user, rules, limit, before)
        return msgspec.convert(views, list[SubmissionOut])

    @get("/expiring", operation_id="myExpiringPoints")
    async def expiring(self, request: Request, rules: NamedDependency[Rules]) -> list[Expiring]:
        return msgspec.convert(await expiry.upcoming(rules, request.user), list[Expiring])

    @get("/export", operation_id="myData")
    async def export(self, request: Request) -> Response[dict]:
        """Everything kept about me, as one JSON document."""
        return Response(await member_data.export(request.user),
                         headers={"Content-Disposition": f'attachment; filename="jifen-{request.user.id}.json"'})

    @post("/delete", operation_id="deleteMe", status_code=204)
    async def delete(self, request: Request, sessions: NamedDependency[Sessions], data: JSONBody[DeleteIn]) -> Response[None]:
        """Delete my account: personal details are anonymised, held orders cancelled, points forfeited."""
        await member_data.delete(request.user, data.password)
        await sessions.end(request.auth.sid)
        return Response(None, status_code=204, cookies=session_cookies(False))
