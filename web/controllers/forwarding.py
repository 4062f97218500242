"""Forwarding cases to outside systems (points/cases/forwarding.py, points/cases/outbox.py): admins link a unit to a system;
staff see what was sent and send a parked event again; the system's signed callbacks come in here."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from points.cases import forwarding, outbox
from points.ops.dispatch import Dispatcher
from points.vocabulary import OutboxState
from web import flows
from web.auth import admin_only, staff_only
from web.schemas.base import IdPath, limit_query
from web.schemas.forwarding import CallbackOut, ForwardingIn, ForwardingOut, OutboxEventOut

Signature = Annotated[str, HeaderParameter(name="X-Jifen-Signature", max_length=200)]
Timestamp = Annotated[str, HeaderParameter(name="X-Jifen-Timestamp", max_length=20)]


class ForwardingController(Controller):
    path = "/api/v1/admin/forwardings"
    tags = ["forwarding"]
    guards = [admin_only]

    @post("/", operation_id="configureForwarding", status_code=201)
    async def configure(self, request: Request, data: JSONBody[ForwardingIn]) -> ForwardingOut:
        """Link a unit to its outside system (or change the link). A webhook's secret is made unless given and is
        in this answer only."""
        return msgspec.convert(await forwarding.configure(
            request.user, data.unit, data.kind, data.url, data.secret, data.service_code, data.jurisdiction,
            data.auto_dispatch), ForwardingOut)

    @get("/", operation_id="forwardings")
    async def listing(self, request: Request) -> list[ForwardingOut]:
        return msgspec.convert(await forwarding.listing(request.user), list[ForwardingOut])

    @post("/{forwarding_id:int}/disable", operation_id="disableForwarding", status_code=200)
    async def disable(self, request: Request, forwarding_id: IdPath) -> ForwardingOut:
        return msgspec.convert(await forwarding.disable(request.user, forwarding_id), ForwardingOut)


class StaffOutboxController(Controller):
    path = "/api/v1/staff/outbox"
    tags = ["forwarding"]
    guards = [staff_only]

    @get("/", operation_id="outboxEvents")
    async def listing(self, request: Request,
                      in_state: Annotated[OutboxState | None, QueryParameter(name="state")] = None,
                      limit: limit_query(500) = 100) -> list[OutboxEventOut]:
        """The community's case events owed to outside systems, newest first (`?state=parked`: those waiting for
        you)."""
        return msgspec.convert(await outbox.listing(request.user, in_state, limit), list[OutboxEventOut])

    @post("/{event_id:int}/retry", operation_id="retryOutboxEvent", status_code=200)
    async def retry(self, request: Request, event_id: IdPath, dispatcher: NamedDependency[Dispatcher]) -> OutboxEventOut:
        """Send a parked event again, now."""
        return msgspec.convert(await flows.retry_forwarded(dispatcher, request.user, event_id), OutboxEventOut)


class CallbackController(Controller):
    path = "/api/v1/forwarding"
    tags = ["forwarding"]
    opt = {"public": True, "own_auth": True}  # the signature is the credential

    @post("/{forwarding_id:int}/callback", operation_id="forwardingCallback", status_code=200)
    async def callback(self, request: Request, forwarding_id: IdPath, timestamp: Timestamp, signature: Signature,
                       dispatcher: NamedDependency[Dispatcher]) -> CallbackOut:
        """An outside system's word on a case it was sent: accept, return (with the reason) or dispose (with a
        note), signed like our webhooks; each event_id is applied once."""
        body = await request.body()
        done = await flows.move_case(dispatcher, forwarding.callback(forwarding_id, timestamp, signature, body))
        return msgspec.convert(done, CallbackOut)
