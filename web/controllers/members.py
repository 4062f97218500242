"""Staff manage the members of their community: approve or decline registrations, suspend or
reinstate, look up a phone number to call, record a deduction."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from points.people import members
from points.reports import reversals
from points.vocabulary import MemberStatus
from rules import Rules
from web.auth import staff_only
from web.schemas.accounts import DeductIn, DeductOut, MemberOut, PhoneOut, ReasonIn
from web.schemas.base import IdempotencyKey, IdPath, Offset, limit_query


class MembersController(Controller):
    path = "/api/v1/staff/members"
    tags = ["staff"]
    guards = [staff_only]

    @get("/", operation_id="members")
    async def listing(self, request: Request, status: FromQuery[MemberStatus | None] = None,
                      limit: limit_query(500) = 100,
                      offset: Offset = 0) -> list[MemberOut]:
        return msgspec.convert(await members.listing(request.user, status, limit, offset), list[MemberOut])

    @get("/{member_id:int}", operation_id="member")
    async def one(self, request: Request, member_id: IdPath) -> MemberOut:
        return msgspec.convert(await members.view(request.user, member_id), MemberOut)

    @post("/{member_id:int}/phone", operation_id="memberPhone", status_code=200)
    async def phone(self, request: Request, member_id: IdPath) -> PhoneOut:
        """The full number, to call the member. A POST because it is recorded in the audit log."""
        return PhoneOut(phone=await members.phone_to_call(request.user, member_id))

    @post("/{member_id:int}/{action:str}", operation_id="decideMember", status_code=200)
    async def decide(self, request: Request, member_id: IdPath,
                     action: FromPath[Literal["approve", "decline", "suspend", "reinstate"]],
                     data: JSONBody[ReasonIn]) -> MemberOut:
        return msgspec.convert(await members.decide(request.user, member_id, action, data.reason), MemberOut)

    @post("/{member_id:int}/deductions", operation_id="deduct", status_code=200)
    async def deduct(self, request: Request, member_id: IdPath, data: JSONBody[DeductIn],
                     rules: NamedDependency[Rules],
                     idempotency_key: IdempotencyKey) -> DeductOut:
        """Record a deduction item of the rules file; send an Idempotency-Key so a retry deducts once."""
        result = await reversals.deduct(request.user, rules, member_id, data.item, data.note, idempotency_key)
        return DeductOut(**result)
