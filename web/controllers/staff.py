"""Community staff: the verification queue of their own community; verify, reject, reverse an award."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from points.ops.dispatch import Dispatcher
from points.reports import appeals, reversals, review
from points.reports import views as submissions
from points.vocabulary import SubmissionStatus
from rules import Rules
from web import flows
from web.auth import staff_only
from web.schemas.accounts import PenaltyAppealOut, ReverseIn, ReverseOut
from web.schemas.base import IdPath, Offset, limit_query
from web.schemas.reports import RejectIn, SubmissionOut, VerifyIn
from web.schemas.tasks import AppealDecisionIn


class StaffController(Controller):
    path = "/api/v1/staff"
    tags = ["staff"]
    guards = [staff_only]

    @get("/submissions", operation_id="staffQueue")
    async def queue(self, request: Request, rules: NamedDependency[Rules], status: FromQuery[SubmissionStatus] = SubmissionStatus.SUBMITTED,
                    limit: limit_query(200) = 50,
                    offset: Offset = 0) -> list[SubmissionOut]:
        views = await submissions.queue(request.user, rules, status, limit, offset)
        return msgspec.convert(views, list[SubmissionOut])

    @post("/submissions/{submission_id:int}/verify", operation_id="verify", status_code=200)
    async def verify(self, request: Request, submission_id: IdPath, data: JSONBody[VerifyIn],
                     rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> SubmissionOut:
        await flows.verify(request, dispatcher, rules, submission_id, data.item, data.note)
        return msgspec.convert(await submissions.staff_view(request.user, rules, submission_id), SubmissionOut)

    @post("/submissions/{submission_id:int}/reject", operation_id="reject", status_code=200)
    async def reject(self, request: Request, submission_id: IdPath, data: JSONBody[RejectIn],
                     rules: NamedDependency[Rules]) -> SubmissionOut:
        await review.reject(request.user, submission_id, data.reason, data.note)
        return msgspec.convert(await submissions.staff_view(request.user, rules, submission_id), SubmissionOut)

    @post("/submissions/{submission_id:int}/reverse", operation_id="reverseAward", status_code=200)
    async def reverse(self, request: Request, submission_id: IdPath, data: JSONBody[ReverseIn]) -> ReverseOut:
        """Claw back an award found false or duplicate: from the balance, the rest as a debt. Twice is once."""
        return ReverseOut(**await reversals.reverse_award(request.user, submission_id, data.reason, data.note))

    @get("/appeals", operation_id="penaltyAppeals")
    async def appeals(self, request: Request) -> list[PenaltyAppealOut]:
        """The penalty appeals (申诉) waiting for a decision, oldest first."""
        return msgspec.convert(await appeals.waiting(request.user), list[PenaltyAppealOut])

    @post("/appeals/{appeal_id:int}", operation_id="decidePenaltyAppeal", status_code=200)
    async def decide_appeal(self, request: Request, appeal_id: IdPath,
                            data: JSONBody[AppealDecisionIn]) -> PenaltyAppealOut:
        """Grant a penalty's appeal (its points come back) or refuse it (the note says why); once."""
        return msgspec.convert(await appeals.decide(request.user, appeal_id, data.grant, data.note), PenaltyAppealOut)
